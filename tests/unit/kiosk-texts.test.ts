import { describe, expect, it } from "vitest";
import { ALLOW_REASONS, DENY_REASONS } from "../../src/core/reason.js";
import { givenName } from "../../src/kiosk/given-name.js";
import { REASON_TEXTS, reasonText, UNKNOWN_DENY_TEXT } from "../../src/kiosk/reason-texts.js";

describe("what the screen at the door says for each reason", () => {
  it.each(ALLOW_REASONS.map((r) => [r]))("allow %s reads 'Mời vào' / 'Please enter'", (reason) => {
    expect(reasonText("allow", reason).title).toEqual({ vi: "Mời vào", en: "Please enter" });
  });

  it.each(DENY_REASONS.map((r) => [r]))("deny %s has its own words in Vietnamese and English", (reason) => {
    const t = reasonText("deny", reason);
    expect(t).toBe(REASON_TEXTS[reason]);
    expect(t.title.vi).not.toBe("Mời vào");
    expect(t.title.vi.length).toBeGreaterThan(3);
    expect(t.title.en.length).toBeGreaterThan(3);
    expect(t.next).not.toBeNull();
  });

  it("gives every deny reason a different title", () => {
    const titles = DENY_REASONS.map((r) => REASON_TEXTS[r].title.vi);
    expect(new Set(titles).size).toBe(titles.length);
  });

  it("says 'Chưa đủ mũi tiêm' / 'Not fully vaccinated' for insufficient_vaccination", () => {
    expect(reasonText("deny", "insufficient_vaccination").title).toEqual({ vi: "Chưa đủ mũi tiêm", en: "Not fully vaccinated" });
  });

  it.each([["no_such_reason"], ["__proto__"], ["toString"], [""]])("falls back safely for an unknown deny reason %j", (reason) => {
    expect(reasonText("deny", reason)).toBe(UNKNOWN_DENY_TEXT);
    expect(UNKNOWN_DENY_TEXT.next?.vi).toBe("Vui lòng gặp nhân viên tại bàn");
  });

  it("never shows 'Mời vào' on a refusal, even with an allow reason attached", () => {
    expect(reasonText("deny", "ok")).toBe(UNKNOWN_DENY_TEXT);
  });

  it("shows 'Mời vào' for an allow with a reason it does not know", () => {
    expect(reasonText("allow", "something_new").title.vi).toBe("Mời vào");
  });
});

describe("the given name on the greeting", () => {
  it.each([
    ["Nguyễn Văn An", "An"],
    ["NGUYỄN VĂN AN", "An"],
    ["TRẦN THỊ BÌNH", "Bình"],
    ["  Lê   Văn  Cường \n", "Cường"],
    ["Nguyen Gia Manh", "Manh"],
    ["An", "An"],
  ])("%j -> %j", (full, given) => {
    expect(givenName(full)).toBe(given);
  });

  it.each([[undefined], [""], ["   "], ["Nguyễn 001099012345"], ["Nguyễn <script>"], ["X".repeat(40)]])("greets no one for %j", (full) => {
    expect(givenName(full)).toBeNull();
  });
});
