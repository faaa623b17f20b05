// The diagnosis and prescription workflows (docs/workflows.md; issue 13):
// seed 004's stage names and percentages, the request a form builds, and
// the live state of one run (stages reached, items streamed, the result).
// Framework-free, so tests drive it directly.

export type WorkflowKind = "diagnosis" | "prescription";

/** One stage as the server names it, with seed 004's percentage. */
export interface StageDef {
  stage: string;
  progress: number;
  label: string;
}

export const STAGES: Record<WorkflowKind, StageDef[]> = {
  diagnosis: [
    { stage: "symptoms_analysis", progress: 10, label: "Symptoms analysis" },
    { stage: "vitals_evaluation", progress: 30, label: "Vital signs and NEWS2" },
    { stage: "history_review", progress: 50, label: "History review" },
    { stage: "differential_diagnosis", progress: 70, label: "Differential diagnosis" },
    { stage: "primary_diagnosis", progress: 90, label: "Primary diagnosis" },
    { stage: "complete", progress: 100, label: "Complete" },
  ],
  prescription: [
    { stage: "allergy_check", progress: 10, label: "Allergy check" },
    { stage: "medication_selection", progress: 30, label: "Medication selection" },
    { stage: "interaction_check", progress: 60, label: "Interaction check" },
    { stage: "monitoring_advice", progress: 80, label: "Monitoring advice" },
    { stage: "finalization", progress: 95, label: "Finalization" },
    { stage: "complete", progress: 100, label: "Complete" },
  ],
};

export function stageLabel(kind: WorkflowKind, stage: string): string {
  return STAGES[kind].find((s) => s.stage === stage)?.label ?? stage.replace(/_/g, " ");
}

export function isKind(v: unknown): v is WorkflowKind {
  return v === "diagnosis" || v === "prescription";
}

/** A workflow_progress event as kept. */
export interface StageEvent {
  stage: string;
  progress: number;
  message: string;
}

/** A workflow_item's content: an object whose shape depends on the stage. */
export type Item = Record<string, unknown>;

/** The live and stored state of one workflow run on an assistant message. */
export interface WorkflowRun {
  kind: WorkflowKind;
  stages: StageEvent[];
  items: { stage: string; content: Item }[];
  /** message_complete.workflow_result, or Message.workflow when stored. */
  result: Item | null;
}

export function newRun(kind: WorkflowKind): WorkflowRun {
  return { kind, stages: [], items: [], result: null };
}

/** The percentage to show: the last stage reached, 100 once complete. */
export function percent(run: WorkflowRun): number {
  if (run.result) return 100;
  const last = run.stages[run.stages.length - 1];
  return last ? Math.max(0, Math.min(100, last.progress)) : 0;
}

// ---- the form -----------------------------------------------------------

export interface DxForm {
  symptoms: { name: string; severity: string; duration: string }[];
  temperature: string;
  heart_rate: string;
  blood_pressure: string;
  respiratory_rate: string;
  spo2: string;
  consciousness: string;
  /** "air", "oxygen" or "" (not given: NEWS2 lists it as missing). */
  oxygen: string;
  age: string;
  sex: string;
  allergies: string;
  conditions: string;
  medications: string;
}

export interface RxForm {
  diagnosis: string;
  age: string;
  weight: string;
  sex: string;
  pregnant: boolean;
  medications: string;
  current_medications: string;
  allergies: string;
  conditions: string;
}

export const emptyDx = (): DxForm => ({
  symptoms: [{ name: "", severity: "", duration: "" }],
  temperature: "",
  heart_rate: "",
  blood_pressure: "",
  respiratory_rate: "",
  spo2: "",
  consciousness: "",
  oxygen: "",
  age: "",
  sex: "",
  allergies: "",
  conditions: "",
  medications: "",
});

export const emptyRx = (): RxForm => ({ diagnosis: "", age: "", weight: "", sex: "", pregnant: false, medications: "", current_medications: "", allergies: "", conditions: "" });

/** Comma- or line-separated entries, trimmed, empty ones dropped. */
export const list = (v: string): string[] => v.split(/[\n,;]/).map((x) => x.trim()).filter(Boolean);

/** A number, or a field-named error; "" is absent (the server fills it from the context). */
function num(v: string, field: string, errors: string[]): number | undefined {
  const t = v.trim();
  if (!t) return undefined;
  const n = Number(t);
  if (!Number.isFinite(n)) errors.push(`${field} must be a number.`);
  return Number.isFinite(n) ? n : undefined;
}

/** Seed 004's diagnosis `data`: only the fields given, so that the bound
 * clinical context fills the others (docs/workflows.md "The clinical context"). */
export function diagnosisData(f: DxForm): { data: Record<string, unknown>; errors: string[] } {
  const errors: string[] = [];
  const data: Record<string, unknown> = {};
  const symptoms = f.symptoms
    .filter((s) => s.name.trim())
    .map((s) => {
      const o: Record<string, string> = { name: s.name.trim() };
      if (s.severity) o.severity = s.severity;
      if (s.duration.trim()) o.duration = s.duration.trim();
      return o;
    });
  if (symptoms.length) data.symptoms = symptoms;
  const vitals: Record<string, unknown> = {};
  const put = (k: string, v: unknown) => {
    if (v !== undefined && v !== "") vitals[k] = v;
  };
  put("temperature", num(f.temperature, "Temperature", errors));
  put("heart_rate", num(f.heart_rate, "Heart rate", errors));
  put("respiratory_rate", num(f.respiratory_rate, "Respiratory rate", errors));
  put("spo2", num(f.spo2, "SpO₂", errors));
  const bp = f.blood_pressure.trim();
  if (bp) {
    if (!/^\d{2,3}\s*\/\s*\d{2,3}$/.test(bp)) errors.push("Blood pressure must be systolic/diastolic, e.g. 120/80.");
    else vitals.blood_pressure = bp.replace(/\s+/g, "");
  }
  put("consciousness", f.consciousness);
  if (f.oxygen) vitals.oxygen = f.oxygen;
  if (Object.keys(vitals).length) data.vitals = vitals;
  const history: Record<string, unknown> = {};
  const age = num(f.age, "Age", errors);
  if (age !== undefined) history.age = age;
  if (f.sex) history.sex = f.sex;
  if (list(f.allergies).length) history.allergies = list(f.allergies);
  if (list(f.conditions).length) history.conditions = list(f.conditions);
  if (list(f.medications).length) history.medications = list(f.medications);
  if (Object.keys(history).length) data.history = history;
  return { data, errors };
}

/** Seed 004's prescription `data`, with the two optional extensions. */
export function prescriptionData(f: RxForm): { data: Record<string, unknown>; errors: string[] } {
  const errors: string[] = [];
  const data: Record<string, unknown> = {};
  if (f.diagnosis.trim()) data.diagnosis = f.diagnosis.trim();
  const pi: Record<string, unknown> = {};
  const age = num(f.age, "Age", errors);
  if (age !== undefined) pi.age = age;
  const w = num(f.weight, "Weight", errors);
  if (w !== undefined) pi.weight = w;
  if (f.sex) pi.sex = f.sex;
  if (f.pregnant) pi.pregnant = true;
  if (Object.keys(pi).length) data.patient_info = pi;
  for (const k of ["allergies", "medications", "current_medications", "conditions"] as const) if (list(f[k]).length) data[k] = list(f[k]);
  return { data, errors };
}

// ---- reading items and results ------------------------------------------

export const str = (v: unknown): string => (typeof v === "string" ? v : typeof v === "number" || typeof v === "boolean" ? String(v) : "");
export const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
export const obj = (v: unknown): Item | null => (v && typeof v === "object" && !Array.isArray(v) ? (v as Item) : null);
export const strs = (v: unknown): string[] => arr(v).map(str).filter(Boolean);

/** "0.42": a relative score to two decimals (never called a probability). */
export function score(v: unknown): string {
  return typeof v === "number" && Number.isFinite(v) ? v.toFixed(2) : "–";
}

/** An href only for http(s) URLs; anything else is shown as text, not linked. */
export function safeUrl(v: unknown): string | null {
  const s = str(v);
  return /^https?:\/\//i.test(s) ? s : null;
}

export type ItemKind = "candidate" | "primary" | "medication" | "interaction" | "monitoring" | "other";

export function itemKind(c: Item): ItemKind {
  if (c.primary === true) return "primary";
  if ("interaction" in c) return "interaction";
  if ("monitoring" in c) return "monitoring";
  if ("medication" in c && "status" in c) return "medication";
  if ("diagnosis" in c && "probability" in c) return "candidate";
  return "other";
}
