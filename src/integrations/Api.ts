import { HttpApiEndpoint, HttpApiGroup, OpenApi } from "@effect/platform"
import { maxCharacters, strictBody } from "../Json.ts"
import { Schema } from "effect"
import { BadRequest, Forbidden, NotFound } from "../ApiErrors.ts"
import { Authentication } from "../tenancy/Security.ts"

/** Maximum number of turns in an imported or recorded call transcript. */
export const maxTranscriptTurns = 2000

/** Maximum length of one transcript turn, in characters. */
export const maxTurnLength = 4000

/** One turn of a call transcript: the speaker and their words. */
export const TranscriptTurn = Schema.Struct({
  speaker: Schema.Literal("buyer", "rep"),
  text: Schema.String.pipe(maxCharacters(maxTurnLength)).annotations({
    description: "The words of the speaker, at most 4000 characters."
  })
}).annotations({ identifier: "TranscriptTurn" })

/**
 * A call transcript of 1 to 2000 turns, in the order they were spoken. The
 * whole request body must also fit the service's 1 MiB request limit, so a
 * transcript at the maximum turn count cannot have every turn at full length.
 */
export const Transcript = Schema.Array(TranscriptTurn).pipe(
  Schema.minItems(1),
  Schema.maxItems(maxTranscriptTurns)
).annotations({
  description: "The turns of the call in the order they were spoken, 1 to 2000 of them. The whole request body must fit in 1 MiB."
})

const isHttpUrl = (text: string) => {
  try {
    const url = new URL(text)
    return url.protocol === "http:" || url.protocol === "https:"
  } catch {
    return false
  }
}

/** An absolute http or https URL. */
const HttpUrl = Schema.String.pipe(
  maxCharacters(2000),
  Schema.filter((text) => isHttpUrl(text) || "must be an absolute http or https URL")
)

/** Body of `POST /api/integrations/calls`. */
export const ImportCall = Schema.Struct({
  source_url: HttpUrl.annotations({
    description: "Absolute http(s) URL of the call in the recorder, at most 2000 characters. A tenant imports each URL once."
  }),
  source_vendor: Schema.Literal("gong", "chorus").annotations({ description: "Call recorder the call comes from." }),
  external_id: Schema.optional(
    Schema.String.pipe(Schema.minLength(1), maxCharacters(200)).annotations({
      description: "Id of the call in the recorder, at most 200 characters."
    })
  ),
  user_id: Schema.optional(Schema.UUID.annotations({ description: "The tenant's user who ran the call (UUID)." })),
  transcript: Transcript
})
export type ImportCall = typeof ImportCall.Type

/** The moment of the call where the rep lost ground, with a better response. */
export const FailureMoment = Schema.Struct({
  buyer_line: Schema.String,
  rep_response: Schema.String,
  diagnosis: Schema.String,
  better_response: Schema.String
}).annotations({ identifier: "FailureMoment" })

/** A stored call import: the import id, its drill scenario and the failure moment the drill replays. */
export const ImportedCall = Schema.Struct({
  ingest_id: Schema.UUID,
  scenario_id: Schema.UUID.annotations({ description: "The drill scenario generated from the call." }),
  failure_moment: FailureMoment,
  status: Schema.Literal("imported")
}).annotations({ identifier: "ImportedCall" })
export type ImportedCall = typeof ImportedCall.Type

/** Importing recorded sales calls (Gong, Chorus) as drill scenarios. */
export class CallImportsApi extends HttpApiGroup.make("callImports")
  .add(
    HttpApiEndpoint.post("import", "/api/integrations/calls")
      .setPayload(strictBody(ImportCall))
      .addSuccess(ImportedCall, { status: 201 })
      // Documents the repeat of an imported source URL. The handler builds that response itself.
      .addSuccess(ImportedCall.annotations({ description: "The import of a source URL imported before." }))
      .addError(BadRequest)
      .addError(Forbidden)
      .addError(NotFound)
      .annotate(
        OpenApi.Description,
        "Imports a recorded call, generates a drill scenario from its failure moment and emits real_call.imported. A source URL the tenant imported before returns the existing import with 200 and emits nothing. Needs the write scope."
      )
  )
  .middleware(Authentication)
  .annotate(OpenApi.Title, "Call imports")
{}
