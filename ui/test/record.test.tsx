// What the patient banner, the attachments list and the share dialog show,
// from the server's shapes (docs/protocol.md "Clinical context",
// "Attachments", "Share links").

import { describe, expect, it } from "vitest";
import { fileSize } from "../src/components/Attachments";
import { demographics, vitalsText } from "../src/components/Clinical";
import { shareLink } from "../src/components/Share";

describe("patient banner", () => {
  it("summarises the demographics it has, in order, and skips unknown ones", () => {
    expect(demographics({ age: 67, gender: "male", weight_kg: 82.5, height_cm: 176 })).toBe("67 y · male · 82.5 kg · 176 cm");
    expect(demographics({ age: 0, gender: null, weight_kg: null, height_cm: 48 })).toBe("0 y · 48 cm");
    expect(demographics({})).toBe("");
  });
  it("lists the vital signs with their units; a 0 is a value, null is unknown", () => {
    expect(vitalsText({ vitals: { temperature: 38.5, heart_rate: 88, blood_pressure: "142/91", respiratory_rate: 16, spo2: 97 } })).toEqual(["T 38.5 °C", "HR 88/min", "BP 142/91 mmHg", "RR 16/min", "SpO₂ 97%"]);
    expect(vitalsText({ vitals: { temperature: null, heart_rate: 0 } })).toEqual(["HR 0/min"]);
    expect(vitalsText({ vitals: null })).toEqual([]);
  });
});

describe("attachments", () => {
  it("gives sizes in B, KB and MB", () => {
    expect(fileSize(512)).toBe("512 B");
    expect(fileSize(1536)).toBe("1.5 KB");
    expect(fileSize(200 * 1024)).toBe("200 KB");
    expect(fileSize(1.25 * 1024 * 1024)).toBe("1.3 MB");
    expect(fileSize(-1)).toBe("");
  });
});

describe("share links", () => {
  it("opens the read-only page of the client, the token after #/s/", () => {
    expect(shareLink("AbC-_123")).toBe(location.origin + "/#/s/AbC-_123");
  });
});
