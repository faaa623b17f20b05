// The patient banner: the clinical context bound to the open conversation
// (docs/protocol.md "Clinical context"), editable in a dialog, importable
// from a FHIR R4 Bundle file. In a new chat the context is made first and
// bound by the first question (the message's clinical_context_id). The
// server validates units and ranges; its 400 message names the field.

import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, rest } from "../api";
import { errorText, type ChatStore } from "../chat";
import { useStore } from "../hooks";
import type { ClinicalContext, ClinicalContextFields } from "../types";
import { Icon } from "./icons";

const lines = (v: string): string[] => v.split("\n").map((x) => x.trim()).filter(Boolean);
const numOrNull = (v: string): number | null => (v.trim() === "" ? null : Number(v));

/** A one-line summary of the demographics ("54 y · female · 82 kg · 170 cm"). */
export function demographics(c: ClinicalContextFields): string {
  const parts: string[] = [];
  if (c.age != null) parts.push(`${c.age} y`);
  if (c.gender) parts.push(c.gender);
  if (c.weight_kg != null) parts.push(`${c.weight_kg} kg`);
  if (c.height_cm != null) parts.push(`${c.height_cm} cm`);
  return parts.join(" · ");
}

/** The recorded vital signs with their units, in the order clinicians read them. */
export function vitalsText(c: ClinicalContextFields): string[] {
  const v = c.vitals ?? {};
  const out: string[] = [];
  if (v.temperature != null) out.push(`T ${v.temperature} °C`);
  if (v.heart_rate != null) out.push(`HR ${v.heart_rate}/min`);
  if (v.blood_pressure) out.push(`BP ${v.blood_pressure} mmHg`);
  if (v.respiratory_rate != null) out.push(`RR ${v.respiratory_rate}/min`);
  if (v.spo2 != null) out.push(`SpO₂ ${v.spo2}%`);
  return out;
}

export function PatientBanner({ store }: { store: ChatStore }) {
  const s = useStore(store, () => store.state);
  const conv = s.currentId;
  const [ctx, setCtx] = useState<ClinicalContext | null>(null);
  const [editing, setEditing] = useState(false);
  const [note, setNote] = useState("");
  const [error, setError] = useState("");
  const file = useRef<HTMLInputElement>(null);

  useEffect(() => {
    setNote("");
    setError("");
    if (!conv) {
      setCtx(s.draftContext);
      return;
    }
    let live = true;
    rest
      .currentContext(conv)
      .then((c) => live && setCtx(c))
      .catch((e) => {
        if (!live) return;
        setCtx(null);
        if (!(e instanceof ApiError && e.status === 404)) setError(errorText(e));
      });
    return () => {
      live = false;
    };
  }, [conv, s.draftContext?.id, s.contextVersion]);

  const saved = (c: ClinicalContext) => {
    setCtx(c);
    if (!conv) store.setDraftContext(c);
  };

  async function importFile(f: File | undefined) {
    if (!f) return;
    setError("");
    setNote("");
    try {
      const bundle = JSON.parse(await f.text());
      const c = await rest.importFhir(bundle, conv);
      saved(c);
      const w = c.import?.warnings ?? [];
      setNote(`Imported from ${f.name}${w.length ? ` with ${w.length} warning${w.length === 1 ? "" : "s"}: ${w.slice(0, 3).join("; ")}${w.length > 3 ? "; …" : ""}` : "."}`);
    } catch (e) {
      setError(e instanceof SyntaxError ? `${f.name} is not JSON: choose a FHIR R4 Bundle (.json).` : errorText(e));
    } finally {
      if (file.current) file.current.value = "";
    }
  }

  async function remove() {
    if (!ctx) return;
    try {
      await rest.deleteContext(ctx.id);
      setCtx(null);
      if (!conv) store.setDraftContext(null);
    } catch (e) {
      setError(errorText(e));
    }
  }

  const picker = (
    <input ref={file} type="file" class="sr-only" tabIndex={-1} aria-hidden="true" accept=".json,application/json,application/fhir+json" onChange={(e) => void importFile((e.target as HTMLInputElement).files?.[0])} />
  );

  if (!ctx)
    return (
      <section class="patient empty-patient" aria-label="Patient">
        <Icon name="user" size={16} />
        <span class="muted">No patient context{conv ? " for this conversation" : ""}.</span>
        <button type="button" class="btn small" onClick={() => setEditing(true)}>Add patient context</button>
        <button type="button" class="btn small ghost" onClick={() => file.current?.click()}>Import FHIR</button>
        {picker}
        {error && <span class="form-error" role="alert">{error}</span>}
        {editing && <ContextDialog ctx={null} conversationId={conv} onSaved={saved} onClose={() => setEditing(false)} />}
      </section>
    );

  const vit = vitalsText(ctx);
  return (
    <section class="patient" aria-label="Patient">
      <div class="patient-main">
        <span class="patient-badge"><Icon name="user" size={16} /> Patient</span>
        {demographics(ctx) && <span class="patient-demo">{demographics(ctx)}</span>}
        {ctx.chief_complaint && <span><span class="k">Complaint</span> {ctx.chief_complaint}</span>}
        {ctx.source === "fhir" && <span class="pill">FHIR</span>}
        <span class="patient-actions">
          <button type="button" class="btn small" onClick={() => setEditing(true)}>Edit</button>
          <button type="button" class="btn small ghost" onClick={() => file.current?.click()}>Import FHIR</button>
          <button type="button" class="btn small ghost" onClick={() => void remove()} aria-label="Remove the patient context">Remove</button>
        </span>
      </div>
      <dl class="patient-facts">
        {!!ctx.allergies?.length && (
          <div class="allergies">
            <dt><Icon name="alert" size={14} /> Allergies</dt>
            <dd>{ctx.allergies.join(", ")}</dd>
          </div>
        )}
        {!!ctx.problems?.length && (
          <div>
            <dt>Problems</dt>
            <dd>{ctx.problems.join(", ")}</dd>
          </div>
        )}
        {!!ctx.medications?.length && (
          <div>
            <dt>Medications</dt>
            <dd>{ctx.medications.join(", ")}</dd>
          </div>
        )}
        {vit.length > 0 && (
          <div>
            <dt>Vitals</dt>
            <dd>{vit.join(" · ")}</dd>
          </div>
        )}
      </dl>
      {picker}
      {note && <p class="patient-note" role="status">{note}</p>}
      {error && <p class="form-error" role="alert">{error}</p>}
      {editing && <ContextDialog ctx={ctx} conversationId={conv} onSaved={saved} onClose={() => setEditing(false)} />}
    </section>
  );
}

function ContextDialog({ ctx, conversationId, onSaved, onClose }: { ctx: ClinicalContext | null; conversationId: string | null; onSaved: (c: ClinicalContext) => void; onClose: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  const v = ctx?.vitals ?? {};
  const [f, setF] = useState({
    age: ctx?.age?.toString() ?? "",
    gender: ctx?.gender ?? "",
    weight_kg: ctx?.weight_kg?.toString() ?? "",
    height_cm: ctx?.height_cm?.toString() ?? "",
    chief_complaint: ctx?.chief_complaint ?? "",
    problems: (ctx?.problems ?? []).join("\n"),
    medications: (ctx?.medications ?? []).join("\n"),
    allergies: (ctx?.allergies ?? []).join("\n"),
    temperature: v.temperature?.toString() ?? "",
    heart_rate: v.heart_rate?.toString() ?? "",
    blood_pressure: v.blood_pressure ?? "",
    respiratory_rate: v.respiratory_rate?.toString() ?? "",
    spo2: v.spo2?.toString() ?? "",
  });
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    if (ref.current && !ref.current.open) ref.current.showModal();
  }, []);
  const field = (k: keyof typeof f) => ({ value: f[k], onInput: (e: Event) => setF({ ...f, [k]: (e.target as HTMLInputElement).value }) });

  async function save(e: Event) {
    e.preventDefault();
    setError("");
    const body: ClinicalContextFields = {
      age: numOrNull(f.age),
      gender: f.gender || null,
      weight_kg: numOrNull(f.weight_kg),
      height_cm: numOrNull(f.height_cm),
      chief_complaint: f.chief_complaint.trim() || null,
      problems: lines(f.problems),
      medications: lines(f.medications),
      allergies: lines(f.allergies),
      vitals: {
        temperature: numOrNull(f.temperature),
        heart_rate: numOrNull(f.heart_rate),
        blood_pressure: f.blood_pressure.trim() || null,
        respiratory_rate: numOrNull(f.respiratory_rate),
        spo2: numOrNull(f.spo2),
      },
    };
    for (const [k, x] of Object.entries({ age: body.age, weight_kg: body.weight_kg, height_cm: body.height_cm, ...body.vitals }))
      if (typeof x === "number" && !Number.isFinite(x)) return setError(`${k} must be a number.`);
    setBusy(true);
    try {
      const c = ctx ? await rest.updateContext(ctx.id, body) : await rest.createContext(body, conversationId);
      onSaved(c);
      ref.current?.close();
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <dialog ref={ref} class="dialog context-dialog" aria-labelledby="ctx-title" onClose={onClose}>
      <div class="dialog-head">
        <h2 id="ctx-title">{ctx ? "Edit the patient context" : "Add a patient context"}</h2>
        <button type="button" class="icon-btn" aria-label="Close" onClick={() => ref.current?.close()}><Icon name="close" /></button>
      </div>
      <p class="muted">Every answer in this conversation takes it into account (allergies, problems). It is treated as PHI: only local models see it.</p>
      <form onSubmit={save} noValidate>
        <fieldset>
          <legend>Demographics</legend>
          <div class="grid4">
            <label>Age (years)<input inputMode="numeric" {...field("age")} /></label>
            <label>
              Gender
              <select value={f.gender} onChange={(e) => setF({ ...f, gender: (e.target as HTMLSelectElement).value })}>
                <option value="">Unknown</option>
                <option value="female">Female</option>
                <option value="male">Male</option>
                <option value="other">Other</option>
              </select>
            </label>
            <label>Weight (kg)<input inputMode="decimal" {...field("weight_kg")} /></label>
            <label>Height (cm)<input inputMode="decimal" {...field("height_cm")} /></label>
          </div>
        </fieldset>
        <label>Chief complaint<input maxLength={500} {...field("chief_complaint")} /></label>
        <div class="grid3">
          <label>Problems (one a line)<textarea rows={3} {...field("problems")} /></label>
          <label>Medications (one a line)<textarea rows={3} {...field("medications")} /></label>
          <label>Allergies (one a line)<textarea rows={3} {...field("allergies")} /></label>
        </div>
        <fieldset>
          <legend>Vital signs</legend>
          <div class="grid5">
            <label>Temperature (°C)<input inputMode="decimal" {...field("temperature")} /></label>
            <label>Heart rate (/min)<input inputMode="numeric" {...field("heart_rate")} /></label>
            <label>Blood pressure (mmHg)<input placeholder="120/80" {...field("blood_pressure")} /></label>
            <label>Respiratory rate (/min)<input inputMode="numeric" {...field("respiratory_rate")} /></label>
            <label>SpO₂ (%)<input inputMode="decimal" {...field("spo2")} /></label>
          </div>
        </fieldset>
        <p class="form-error" role="alert">{error}</p>
        <div class="edit-actions">
          <button type="button" class="btn ghost" onClick={() => ref.current?.close()}>Cancel</button>
          <button type="submit" class="btn primary" disabled={busy}>{busy ? "Saving…" : "Save"}</button>
        </div>
      </form>
    </dialog>
  );
}
