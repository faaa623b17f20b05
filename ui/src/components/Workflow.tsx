// The diagnosis and prescription workflows in the chat (docs/workflows.md):
// the form that starts one, and the run on its assistant message: a progress
// bar with seed 004's stage names and percentages, each streamed item as it
// arrives, and the final card. A stored result (Message.workflow) renders the
// same card. Every server string is rendered as text (JSX escapes it); URLs
// are linked only when http(s).

import { useEffect, useRef, useState } from "preact/hooks";
import type { ChatStore } from "../chat";
import {
  STAGES,
  arr,
  diagnosisData,
  emptyDx,
  emptyRx,
  itemKind,
  obj,
  percent,
  prescriptionData,
  safeUrl,
  score,
  stageLabel,
  str,
  strs,
  type DxForm,
  type Item,
  type RxForm,
  type WorkflowKind,
  type WorkflowRun,
} from "../workflow";
import { Icon } from "./icons";

// ---- the form -------------------------------------------------------------

export function WorkflowDialog({ store, onClose }: { store: ChatStore; onClose: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  const [kind, setKind] = useState<WorkflowKind>("diagnosis");
  const [dx, setDx] = useState<DxForm>(emptyDx);
  const [rx, setRx] = useState<RxForm>(emptyRx);
  const [error, setError] = useState("");
  useEffect(() => {
    if (ref.current && !ref.current.open) ref.current.showModal();
  }, []);
  const d = (k: keyof DxForm) => ({ value: dx[k] as string, onInput: (e: Event) => setDx({ ...dx, [k]: (e.target as HTMLInputElement).value }) });
  const r = (k: keyof RxForm) => ({ value: rx[k] as string, onInput: (e: Event) => setRx({ ...rx, [k]: (e.target as HTMLInputElement).value }) });
  const setSym = (i: number, k: "name" | "severity" | "duration", v: string) => setDx({ ...dx, symptoms: dx.symptoms.map((s, j) => (j === i ? { ...s, [k]: v } : s)) });

  function submit(e: Event) {
    e.preventDefault();
    const { data, errors } = kind === "diagnosis" ? diagnosisData(dx) : prescriptionData(rx);
    if (errors.length) return setError(errors.join(" "));
    const summary =
      kind === "diagnosis"
        ? `Diagnosis workflow${Array.isArray(data.symptoms) ? ": " + (data.symptoms as { name: string }[]).map((s) => s.name).join(", ") : " (from the patient context)"}`
        : `Prescription workflow${typeof data.diagnosis === "string" ? ": " + data.diagnosis : " (from the patient context)"}`;
    void store.runWorkflow(kind, data, summary);
    ref.current?.close();
  }

  return (
    <dialog ref={ref} class="dialog context-dialog wf-dialog" aria-labelledby="wf-title" onClose={onClose}>
      <div class="dialog-head">
        <h2 id="wf-title">Run a decision-support workflow</h2>
        <button type="button" class="icon-btn" aria-label="Close" onClick={() => ref.current?.close()}><Icon name="close" /></button>
      </div>
      <p class="muted">Fields left empty are filled from the conversation’s patient context when one is bound. The result is decision support for a clinician, not a diagnosis or a prescription.</p>
      <form onSubmit={submit} noValidate>
        <fieldset class="wf-kind">
          <legend>Workflow</legend>
          <label class="inline"><input type="radio" name="wf-kind" value="diagnosis" checked={kind === "diagnosis"} onChange={() => setKind("diagnosis")} /> Diagnosis</label>
          <label class="inline"><input type="radio" name="wf-kind" value="prescription" checked={kind === "prescription"} onChange={() => setKind("prescription")} /> Prescription</label>
        </fieldset>
        {kind === "diagnosis" ? (
          <>
            <fieldset>
              <legend>Symptoms</legend>
              {dx.symptoms.map((s, i) => (
                <div class="grid3 wf-sym" key={i}>
                  <label>Symptom {i + 1}<input value={s.name} maxLength={200} onInput={(e) => setSym(i, "name", (e.target as HTMLInputElement).value)} /></label>
                  <label>
                    Severity of symptom {i + 1}
                    <select value={s.severity} onChange={(e) => setSym(i, "severity", (e.target as HTMLSelectElement).value)}>
                      <option value="">Not given</option>
                      <option value="mild">Mild</option>
                      <option value="moderate">Moderate</option>
                      <option value="severe">Severe</option>
                    </select>
                  </label>
                  <label>Duration of symptom {i + 1}<input value={s.duration} maxLength={200} placeholder="3 days" onInput={(e) => setSym(i, "duration", (e.target as HTMLInputElement).value)} /></label>
                </div>
              ))}
              <div class="wf-sym-actions">
                <button type="button" class="btn small" disabled={dx.symptoms.length >= 30} onClick={() => setDx({ ...dx, symptoms: [...dx.symptoms, { name: "", severity: "", duration: "" }] })}>
                  <Icon name="plus" size={14} /> Add a symptom
                </button>
                {dx.symptoms.length > 1 && (
                  <button type="button" class="btn small ghost" onClick={() => setDx({ ...dx, symptoms: dx.symptoms.slice(0, -1) })}>Remove the last symptom</button>
                )}
              </div>
            </fieldset>
            <fieldset>
              <legend>Vital signs</legend>
              <div class="grid5">
                <label>Temperature (°C)<input inputMode="decimal" {...d("temperature")} /></label>
                <label>Heart rate (/min)<input inputMode="numeric" {...d("heart_rate")} /></label>
                <label>Blood pressure (mmHg)<input placeholder="120/80" {...d("blood_pressure")} /></label>
                <label>Respiratory rate (/min)<input inputMode="numeric" {...d("respiratory_rate")} /></label>
                <label>SpO₂ (%)<input inputMode="decimal" {...d("spo2")} /></label>
              </div>
              <div class="grid3">
                <label>
                  Consciousness (ACVPU)
                  <select value={dx.consciousness} onChange={(e) => setDx({ ...dx, consciousness: (e.target as HTMLSelectElement).value })}>
                    <option value="">Not given</option>
                    <option value="alert">Alert</option>
                    <option value="confusion">New confusion</option>
                    <option value="voice">Voice</option>
                    <option value="pain">Pain</option>
                    <option value="unresponsive">Unresponsive</option>
                  </select>
                </label>
                <label>
                  Air or oxygen
                  <select value={dx.oxygen} onChange={(e) => setDx({ ...dx, oxygen: (e.target as HTMLSelectElement).value })}>
                    <option value="">Not given</option>
                    <option value="air">Room air</option>
                    <option value="oxygen">Supplemental oxygen</option>
                  </select>
                </label>
              </div>
            </fieldset>
            <fieldset>
              <legend>History</legend>
              <div class="grid4">
                <label>Age (years)<input inputMode="numeric" {...d("age")} /></label>
                <label>
                  Sex
                  <select value={dx.sex} onChange={(e) => setDx({ ...dx, sex: (e.target as HTMLSelectElement).value })}>
                    <option value="">Not given</option>
                    <option value="female">Female</option>
                    <option value="male">Male</option>
                  </select>
                </label>
              </div>
              <div class="grid3">
                <label>Allergies (comma-separated)<textarea rows={2} {...d("allergies")} /></label>
                <label>Conditions (comma-separated)<textarea rows={2} {...d("conditions")} /></label>
                <label>Medications (comma-separated)<textarea rows={2} {...d("medications")} /></label>
              </div>
            </fieldset>
          </>
        ) : (
          <>
            <label>Diagnosis<input maxLength={200} placeholder="e.g. Pneumonia" {...r("diagnosis")} /></label>
            <div class="grid3">
              <label>Proposed medications (comma-separated)<textarea rows={2} {...r("medications")} /></label>
              <label>Current medications (comma-separated)<textarea rows={2} {...r("current_medications")} /></label>
              <label>Allergies (comma-separated)<textarea rows={2} {...r("allergies")} /></label>
            </div>
            <fieldset>
              <legend>Patient</legend>
              <div class="grid4">
                <label>Age (years)<input inputMode="numeric" {...r("age")} /></label>
                <label>Weight (kg)<input inputMode="decimal" {...r("weight")} /></label>
                <label>
                  Sex
                  <select value={rx.sex} onChange={(e) => setRx({ ...rx, sex: (e.target as HTMLSelectElement).value })}>
                    <option value="">Not given</option>
                    <option value="female">Female</option>
                    <option value="male">Male</option>
                  </select>
                </label>
                <label class="inline check"><input type="checkbox" checked={rx.pregnant} onChange={(e) => setRx({ ...rx, pregnant: (e.target as HTMLInputElement).checked })} /> Pregnant</label>
              </div>
              <label>Conditions (comma-separated)<textarea rows={2} {...r("conditions")} /></label>
            </fieldset>
          </>
        )}
        <p class="form-error" role="alert">{error}</p>
        <div class="edit-actions">
          <button type="button" class="btn ghost" onClick={() => ref.current?.close()}>Cancel</button>
          <button type="submit" class="btn primary">Run {kind}</button>
        </div>
      </form>
    </dialog>
  );
}

// ---- the run ----------------------------------------------------------------

function Cites({ v }: { v: unknown }) {
  const cs = arr(v).map(obj).filter((c): c is Item => !!c);
  if (!cs.length) return null;
  return (
    <ul class="wf-cites" aria-label="Citations">
      {cs.map((c, i) => {
        const url = safeUrl(c.url);
        const title = str(c.title) || str(c.source_name) || str(c.source_id) || "Source";
        const sub = [str(c.subtitle), str(c.source_name)].filter(Boolean).join(" · ");
        return (
          <li key={i}>
            {url ? <a href={url} target="_blank" rel="noopener noreferrer">{title}</a> : <span>{title}</span>}
            {sub && <span class="muted"> · {sub}</span>}
            {str(c.quoted_text) && <q>{str(c.quoted_text)}</q>}
          </li>
        );
      })}
    </ul>
  );
}

/** One streamed item (workflow_item.content), by its shape. */
export function ItemView({ c }: { c: Item }) {
  switch (itemKind(c)) {
    case "candidate":
      return (
        <div class="wf-item candidate">
          <div class="wf-item-head">
            <strong>{str(c.diagnosis)}</strong>
            <span class="pill">relative score {score(c.probability)}</span>
          </div>
          {strs(c.matched_symptoms).length > 0 && <p>Matched: {strs(c.matched_symptoms).join(", ")}</p>}
          {strs(c.unmatched_symptoms).length > 0 && <p class="muted">Not matched: {strs(c.unmatched_symptoms).join(", ")}</p>}
          <Cites v={c.citations} />
        </div>
      );
    case "primary":
      return (
        <div class="wf-item primary">
          <div class="wf-item-head">
            <strong>Primary: {str(c.diagnosis) || "none"}</strong>
            {c.diagnosis != null && <span class="pill">relative score {score(c.confidence)}</span>}
            <span class={"urgency u-" + str(c.urgency)}>Urgency: {str(c.urgency) || "not assessed"}</span>
          </div>
          {strs(obj(c.reasoning)?.against).length > 0 && <p class="muted">{strs(obj(c.reasoning)?.against).join("; ")}</p>}
        </div>
      );
    case "medication": {
      const excluded = str(c.status) === "excluded";
      return (
        <div class={"wf-item medication" + (excluded ? " excluded" : "")}>
          <div class="wf-item-head">
            <strong>{str(c.medication)}</strong>
            <span class={"pill" + (excluded ? " bad" : "")}>{str(c.status)}</span>
            {strs(c.classes).length > 0 && <span class="muted">{strs(c.classes).join(", ")}</span>}
          </div>
          {str(c.reason) && <p>{excluded ? "Excluded: " : ""}{str(c.reason)}</p>}
          {str(obj(c.dosage)?.quoted_text) && <p>Label dosage (quoted): <q>{str(obj(c.dosage)?.quoted_text)}</q></p>}
          {str(c.label_note) && <p class="muted">{str(c.label_note)}</p>}
          <Cites v={c.citations} />
        </div>
      );
    }
    case "interaction":
      return (
        <div class="wf-item interaction">
          <div class="wf-item-head">
            <strong>{str(c.interaction)}</strong>
            <span class={"pill sev-" + str(c.severity).toLowerCase()}>severity: {str(c.severity) || "not given"}</span>
            <span class="muted">{str(c.source)}</span>
          </div>
          {str(c.label_text) && <p><q>{str(c.label_text)}</q></p>}
          {str(c.note) && <p class="muted">{str(c.note)}</p>}
          <Cites v={c.citations} />
        </div>
      );
    case "monitoring":
      return (
        <div class="wf-item monitoring">
          <div class="wf-item-head">
            <strong>Monitoring{str(c.medication) ? ": " + str(c.medication) : ""}</strong>
            {str(c.section) && <span class="muted">{str(c.section)}</span>}
          </div>
          <p>{str(c.monitoring)}</p>
          {str(c.because) && <p class="muted">{str(c.because)}</p>}
          <Cites v={c.citations} />
        </div>
      );
    default:
      return (
        <div class="wf-item">
          <dl class="wf-kv">
            {Object.entries(c).filter(([, v]) => str(v)).map(([k, v]) => (
              <div key={k}><dt>{k.replace(/_/g, " ")}</dt><dd>{str(v)}</dd></div>
            ))}
          </dl>
        </div>
      );
  }
}

function Progress({ run }: { run: WorkflowRun }) {
  const pct = percent(run);
  const reached = new Set(run.stages.map((s) => s.stage));
  if (run.result) reached.add("complete");
  const last = run.stages[run.stages.length - 1];
  const name = run.kind === "diagnosis" ? "Diagnosis workflow progress" : "Prescription workflow progress";
  return (
    <div class="wf-progress">
      <div class="wf-bar" role="progressbar" aria-label={name} aria-valuemin={0} aria-valuemax={100} aria-valuenow={pct} aria-valuetext={`${pct}%${last && !run.result ? ", " + stageLabel(run.kind, last.stage) : run.result ? ", complete" : ""}`}>
        <span style={{ width: pct + "%" }} />
      </div>
      <ol class="wf-stages">
        {STAGES[run.kind].map((s) => (
          <li key={s.stage} class={reached.has(s.stage) ? "done" : ""} data-stage={s.stage}>
            <span class="sr-only">{reached.has(s.stage) ? "Done: " : "Not yet: "}</span>
            {s.label} <span class="pct">{s.progress}%</span>
          </li>
        ))}
      </ol>
      {last && !run.result && last.message && <p class="muted wf-msg">{last.message}</p>}
    </div>
  );
}


function News2({ n }: { n: Item | null }) {
  if (!n) return <p class="muted">NEWS2 not scored: no vital signs were given.</p>;
  return (
    <div class="wf-news2">
      <p>
        <strong>NEWS2 {str(n.aggregate)}</strong> over {str(n.parameters_scored)} of 7 parameters · clinical risk {str(n.clinical_risk)}
        {n.red_score === true && " · a parameter scored 3"}
      </p>
      {strs(n.missing).length > 0 && <p>Missing parameters: {strs(n.missing).map((m) => m.replace(/_/g, " ")).join(", ")}</p>}
      {str(n.note) && <p class="muted">{str(n.note)}</p>}
      {str(n.source) && <p class="muted">Source: {str(n.source)}</p>}
    </div>
  );
}

function Notes({ r }: { r: Item }) {
  const unused = arr(r.unused).map(obj).filter((x): x is Item => !!x);
  const notes = strs(r.notes);
  if (!unused.length && !notes.length && !strs(r.from_context).length) return null;
  return (
    <details class="wf-notes">
      <summary>What the workflow could not use ({unused.length + notes.length})</summary>
      {notes.length > 0 && <ul>{notes.map((n, i) => <li key={i}>{n}</li>)}</ul>}
      {unused.length > 0 && <ul>{unused.map((u, i) => <li key={i}><code>{str(u.field)}</code> {str(u.value)}: {str(u.reason)}</li>)}</ul>}
      {strs(r.from_context).length > 0 && <p>Filled from the patient context: {strs(r.from_context).join(", ")}</p>}
    </details>
  );
}

function DiagnosisCard({ r }: { r: Item }) {
  const tests = arr(r.recommended_tests).map(obj).filter((x): x is Item => !!x);
  const diff = arr(r.differential).map(obj).filter((x): x is Item => !!x);
  return (
    <>
      <div class="wf-headline">
        <div>
          <span class="k">Primary diagnosis</span>
          <strong class="wf-primary">{str(r.primary_diagnosis) || "None: no candidate condition matched the symptoms"}</strong>
          {r.primary_diagnosis != null && <span class="muted"> · relative score {score(r.confidence)}</span>}
        </div>
        <span class={"urgency u-" + str(r.urgency)}>Urgency: {str(r.urgency) || "not assessed"}</span>
      </div>
      {strs(r.urgency_basis).length > 0 && <p class="muted">Urgency basis: {strs(r.urgency_basis).join("; ")}</p>}
      <h4>NEWS2</h4>
      <News2 n={obj(r.news2)} />
      {diff.length > 0 && (
        <>
          <h4>Differential (relative score)</h4>
          <ol class="wf-diff">
            {diff.map((c, i) => <li key={i}>{str(c.diagnosis)} <span class="muted">relative score {score(c.probability)}</span></li>)}
          </ol>
          <p class="muted small">{str(r.probability_method) || "A relative score over the candidates listed, not a calibrated probability."}</p>
        </>
      )}
      <h4>Recommended tests</h4>
      {tests.length ? (
        <ul class="wf-tests">{tests.map((t, i) => <li key={i}>{str(t.text)}<Cites v={t.citations} /></li>)}</ul>
      ) : (
        <p class="muted">None on file for this condition.</p>
      )}
      {strs(r.red_flags).length > 0 && <p><strong>Red flags:</strong> {strs(r.red_flags).join(", ")}</p>}
    </>
  );
}

function PrescriptionCard({ r }: { r: Item }) {
  const rows = (k: string) => arr(r[k]).map(obj).filter((x): x is Item => !!x);
  const meds = rows("medications");
  const excl = rows("excluded");
  const inter = rows("interactions");
  const mon = rows("monitoring");
  const contra = rows("contraindications");
  const allergy = rows("allergy_check");
  return (
    <>
      <div class="wf-headline">
        <div>
          <span class="k">Diagnosis</span>
          <strong class="wf-primary">{str(r.diagnosis) || "not given"}</strong>
        </div>
        {r.drug_knowledge_on_file === false && <span class="pill bad">No drug knowledge on file</span>}
      </div>
      <h4>Candidate medications</h4>
      {meds.length ? <ul>{meds.map((m, i) => <li key={i}><strong>{str(m.medication)}</strong> <span class="muted">{str(m.status)}</span>{str(m.label_note) && <span class="muted"> · {str(m.label_note)}</span>}</li>)}</ul> : <p class="muted">None.</p>}
      {excl.length > 0 && (
        <>
          <h4>Excluded</h4>
          <ul>{excl.map((m, i) => <li key={i}><strong>{str(m.medication)}</strong>: {str(m.reason)}</li>)}</ul>
        </>
      )}
      <h4>Interactions</h4>
      {inter.length ? <ul>{inter.map((x, i) => <li key={i}><strong>{str(x.interaction)}</strong> <span class={"pill sev-" + str(x.severity).toLowerCase()}>severity: {str(x.severity)}</span> <span class="muted">{str(x.source)}</span></li>)}</ul> : <p class="muted">None found on file.</p>}
      {mon.length > 0 && (
        <>
          <h4>Monitoring</h4>
          <ul>{mon.map((x, i) => <li key={i}>{str(x.medication) && <strong>{str(x.medication)}: </strong>}{str(x.monitoring)}</li>)}</ul>
        </>
      )}
      {contra.length > 0 && (
        <>
          <h4>Contraindications</h4>
          <ul>{contra.map((x, i) => <li key={i}><strong>{str(x.medication)}</strong> and {str(x.condition)}: <q>{str(x.quoted_text)}</q></li>)}</ul>
        </>
      )}
      {allergy.length > 0 && (
        <>
          <h4>Allergy check</h4>
          <ul>{allergy.map((x, i) => <li key={i}>{str(x.allergy)}: <span class={str(x.status) === "checked" ? "" : "warn"}>{str(x.status)}</span>{str(x.reason) && <span class="muted"> · {str(x.reason)}</span>}</li>)}</ul>
        </>
      )}
      {strs(r.compliance_notes).length > 0 && <ul class="muted">{strs(r.compliance_notes).map((x, i) => <li key={i}>{x}</li>)}</ul>}
    </>
  );
}

/** The final card of a result (live or stored). */
export function ResultCard({ kind, r, disclaimer }: { kind: WorkflowKind; r: Item; disclaimer: string }) {
  const status = str(r.status);
  const disc = str(r.disclaimer) || disclaimer;
  return (
    <section class="wf-card" aria-labelledby={"wf-card-" + str(r.message_id)} data-workflow={kind}>
      <h3 id={"wf-card-" + str(r.message_id)}>{kind === "diagnosis" ? "Diagnosis workflow result" : "Prescription workflow result"}</h3>
      {status && status !== "complete" && (
        <p class="note error">
          Stopped ({status}) after {str(r.stages_completed)} of {str(r.stages_total)} stages.
        </p>
      )}
      {kind === "diagnosis" ? <DiagnosisCard r={r} /> : <PrescriptionCard r={r} />}
      <Notes r={r} />
      {arr(r.citations).length > 0 && (
        <>
          <h4>Citations</h4>
          <Cites v={r.citations} />
        </>
      )}
      {disc && (
        <aside class="disclaimer wf-disclaimer" aria-label="Medical disclaimer">
          <Icon name="shield" size={16} />
          <p>{disc}</p>
        </aside>
      )}
    </section>
  );
}

export function WorkflowView({ run, disclaimer }: { run: WorkflowRun; disclaimer: string }) {
  const live = !run.result;
  return (
    <div class="wf" data-workflow={run.kind} aria-busy={live ? "true" : "false"}>
      {(live || run.stages.length > 0) && <Progress run={run} />}
      {run.items.length > 0 && (
        <div class="wf-items">
          <h3 class="wf-items-h">Streamed items ({run.items.length})</h3>
          <ul aria-label="Workflow items">
            {run.items.map((it, i) => (
              <li key={i} data-stage={it.stage}>
                <span class="wf-item-stage">{stageLabel(run.kind, it.stage)}</span>
                <ItemView c={it.content} />
              </li>
            ))}
          </ul>
        </div>
      )}
      {run.result && <ResultCard kind={run.kind} r={run.result} disclaimer={disclaimer} />}
    </div>
  );
}
