import { HttpApi } from "@effect/platform"
import { Option, SchemaAST } from "effect"

/**
 * Returns the JSON type that a schema node accepts, in words ("a string",
 * "an array", "a string or null"), or undefined for a node that has no such
 * plain name.
 */
export const jsonTypeName = (ast: SchemaAST.AST): string | undefined => {
  switch (ast._tag) {
    case "StringKeyword":
      return "a string"
    case "NumberKeyword":
      return "a number"
    case "BooleanKeyword":
      return "true or false"
    case "Literal":
      return typeof ast.literal === "bigint" ? undefined : JSON.stringify(ast.literal)
    case "Enums":
      return joinAlternatives(ast.enums.map(([, value]) => JSON.stringify(value)))
    case "TupleType":
      return "an array"
    case "TypeLiteral":
      return "an object"
    case "Refinement":
    case "Transformation":
      return jsonTypeName(ast.from)
    case "Suspend":
      return jsonTypeName(ast.f())
    case "Union": {
      const names = ast.types.filter((member) => member._tag !== "UndefinedKeyword").map(jsonTypeName)
      if (names.some((name) => name === undefined)) return undefined
      return joinAlternatives([...new Set(names as Array<string>)])
    }
    default:
      return undefined
  }
}

/** Joins names as "a, b or c". */
const joinAlternatives = (names: ReadonlyArray<string>): string | undefined => {
  if (names.length === 0) return undefined
  if (names.length === 1) return names[0]
  return `${names.slice(0, -1).join(", ")} or ${names.at(-1)}`
}

/**
 * Returns the annotation of a refinement that Effect's decoder prints when a
 * value fails its check: its description, title or identifier.
 */
const refinementText = (ast: SchemaAST.Refinement): string | undefined =>
  Option.getOrUndefined(
    Option.firstSomeOf([SchemaAST.getDescriptionAnnotation(ast), SchemaAST.getTitleAnnotation(ast), SchemaAST.getIdentifierAnnotation(ast)])
  )

/** Returns the nodes directly inside `ast`. */
const childrenOf = (ast: SchemaAST.AST): ReadonlyArray<SchemaAST.AST> => {
  switch (ast._tag) {
    case "TupleType":
      return [...ast.elements.map((element) => element.type), ...ast.rest.map((rest) => rest.type)]
    case "TypeLiteral":
      return [...ast.propertySignatures.map((property) => property.type), ...ast.indexSignatures.map((index) => index.type)]
    case "Union":
      return ast.types
    case "Refinement":
      return [ast.from]
    case "Transformation":
      return [ast.from, ast.to]
    default:
      return []
  }
}

/**
 * Maps the text that Effect's decoder prints after "Expected" for each node
 * in the request schemas of `api` (bodies, paths and query parameters) to the
 * JSON type the node accepts. A text that also names a refinement, or nodes
 * of different types, is left out.
 */
export const expectedTypesOf = (api: HttpApi.HttpApi.Any): ReadonlyMap<string, string> => {
  const found = new Map<string, string | undefined>()
  const visited = new Set<SchemaAST.AST>()
  const visit = (ast: SchemaAST.AST) => {
    if (visited.has(ast)) return
    visited.add(ast)
    const add = (text: string | undefined, typeName: string | undefined) => {
      if (text !== undefined) found.set(text, found.has(text) && found.get(text) !== typeName ? undefined : typeName)
    }
    if (ast._tag === "Refinement") {
      // Printed when a value of the right type fails the check, so no type name may replace it.
      add(refinementText(ast), undefined)
      add(String(ast), undefined)
    } else {
      // What the decoder prints for a value of the wrong type: the node's
      // identifier, title or description, or else its type in TypeScript.
      add(String(ast), jsonTypeName(ast))
    }
    childrenOf(ast).forEach(visit)
  }
  HttpApi.reflect(api as HttpApi.HttpApi<string, never, never, never>, {
    onGroup: () => {},
    onEndpoint: ({ endpoint, payloads }) => {
      payloads.forEach((payload) => visit(payload.ast))
      Option.map(endpoint.pathSchema, (schema) => visit(schema.ast))
      Option.map(endpoint.urlParamsSchema, (schema) => visit(schema.ast))
    }
  })
  const expected = new Map<string, string>()
  found.forEach((typeName, text) => {
    if (typeName !== undefined) expected.set(text, typeName)
  })
  return expected
}
