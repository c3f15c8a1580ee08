/**
 * Names, columns and limits of the read-only warehouse views that BI logins
 * can read. The connectors page and its tests are built from these lists, so
 * a renamed column shows up in every recipe at once.
 */
import { standardCategories } from "../practice/ScorecardGrader.ts"

/** View with one row per skill snapshot, written after every scorecard. */
export const skillProgressView = "warehouse_skill_progress"

/** View with one row per scorecard. */
export const sessionScoresView = "warehouse_session_scores"

/** Both views, in the order the docs list them. */
export const warehouseViews = [skillProgressView, sessionScoresView] as const

/** Schema that contains the views. */
export const warehouseSchema = "public"

/** A skill that the skill snapshots track. */
export interface Skill {
  /** Rubric category name, as in a scorecard's `category_scores`. */
  readonly category: string
  /** Display name, as in the docs. */
  readonly label: string
  /** Score column in the warehouse views. */
  readonly column: string
  /** One-sentence description of the skill for the docs. */
  readonly measures: string
}

/** The ten skills of `warehouse_skill_progress`, in column order. */
export const skills: ReadonlyArray<Skill> = [
  {
    category: "discovery",
    label: "Discovery",
    column: "discovery_score",
    measures: "Asking questions that uncover the buyer's situation, problem and goals before pitching."
  },
  {
    category: "objection_handling",
    label: "Objection handling",
    column: "objection_handling_score",
    measures: "Understanding a concern such as price, timing or an incumbent, and answering it instead of arguing."
  },
  {
    category: "control",
    label: "Control",
    column: "control_score",
    measures: "Steering the call: setting the agenda, keeping the pace and bringing the talk back on track."
  },
  {
    category: "rapport",
    label: "Rapport",
    column: "rapport_score",
    measures: "Building trust and a natural, friendly connection with the buyer."
  },
  {
    category: "closing",
    label: "Closing",
    column: "closing_score",
    measures: "Asking for the commitment at the right moment and handling the answer."
  },
  {
    category: "value_proposition",
    label: "Value proposition",
    column: "value_proposition_score",
    measures: "Tying what the product does to the problem the buyer described."
  },
  {
    category: "qualification",
    label: "Qualification",
    column: "qualification_score",
    measures: "Establishing need, budget, authority and timeline to judge whether the deal is real."
  },
  {
    category: "negotiation",
    label: "Negotiation",
    column: "negotiation_score",
    measures: "Trading concessions on price and terms without giving value away."
  },
  {
    category: "active_listening",
    label: "Active listening",
    column: "active_listening_score",
    measures: "Reflecting and building on what the buyer said rather than waiting to talk."
  },
  {
    category: "next_steps",
    label: "Next steps",
    column: "next_steps_score",
    measures: "Ending with a concrete, dated next step that both sides agree to."
  }
]

/** The skill score columns of `warehouse_skill_progress`. */
export const skillColumns: ReadonlyArray<string> = skills.map((skill) => skill.column)

/** The skills that every scorecard tries to score, so their columns fill first. */
export const standardSkills: ReadonlyArray<Skill> = skills.filter((skill) =>
  (standardCategories as ReadonlyArray<string>).includes(skill.category)
)

/** The skills whose category scores `warehouse_session_scores` also carries, one column each. */
export const sessionSkills: ReadonlyArray<Skill> = skills.filter((skill) =>
  ["discovery", "objection_handling", "control"].includes(skill.category)
)

/** A column of a warehouse view with its PostgreSQL type and meaning. */
export interface ViewColumn {
  readonly name: string
  readonly type: "uuid" | "text" | "integer" | "double precision" | "timestamptz"
  readonly description: string
}

/** Columns of `warehouse_skill_progress`, in view order. */
export const skillProgressColumns: ReadonlyArray<ViewColumn> = [
  { name: "user_id", type: "uuid", description: "The rep, the `id` of a user in `GET /v1/users`." },
  { name: "company_id", type: "uuid", description: "Your company. Every row a login sees has the same value." },
  ...skills.map((skill): ViewColumn => ({
    name: skill.column,
    type: "double precision",
    description: `Mean of the rep's ${skill.label.toLowerCase()} score over their last five scorecards that ` +
      "scored it, 0 to 10. Null until a scorecard scored it."
  })),
  { name: "taken_at", type: "timestamptz", description: "When the snapshot was written, after the scorecard that triggered it." }
]

/** Columns of `warehouse_session_scores`, in view order. */
export const sessionScoresColumns: ReadonlyArray<ViewColumn> = [
  { name: "session_id", type: "uuid", description: "The practice session, the `id` of a session in `GET /v1/sessions`." },
  { name: "user_id", type: "uuid", description: "The rep who practised." },
  { name: "company_id", type: "uuid", description: "Your company. Every row a login sees has the same value." },
  { name: "overall_score", type: "integer", description: "Overall score of the call, 0 to 100." },
  {
    name: "verdict",
    type: "text",
    description: "`pass` when the overall score reached the scenario's pass mark, `fail` otherwise."
  },
  ...sessionSkills.map((skill): ViewColumn => ({
    name: skill.column,
    type: "integer",
    description: `The call's ${skill.label.toLowerCase()} score, 0 to 10. Null when the call did not score it.`
  })),
  { name: "scored_at", type: "timestamptz", description: "When the scorecard was written." }
]

/** Column names of `warehouse_skill_progress`, in view order. */
export const skillProgressColumnNames: ReadonlyArray<string> = skillProgressColumns.map((column) => column.name)

/** Column names of `warehouse_session_scores`, in view order. */
export const sessionScoresColumnNames: ReadonlyArray<string> = sessionScoresColumns.map((column) => column.name)

/** Possible values of `verdict`. */
export const verdicts = ["pass", "fail"] as const

/** Default number of concurrent connections that one warehouse login may open. */
export const defaultConnectionLimit = 5

/** Default time in seconds that a statement of a warehouse login may run before PostgreSQL cancels it. */
export const defaultStatementTimeoutSeconds = 60
