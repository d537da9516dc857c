import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { findDuplicateKey } from "../../src/core/json-duplicate-keys.js";

describe("findDuplicateKey", () => {
  it.each([
    ['{"a":1,"a":2}', "a"],
    ['{"a":1, "b" : {"c":[{"d":1,"d":2}]}}', "d"],
    ['{"\\u0061":1,"a":2}', "a"],
    ['{"a\\"":1,"a\\"":2}', 'a"'],
    ['{"__proto__":1,"__proto__":2}', "__proto__"],
  ])("finds the name repeated in %s", (json, name) => {
    expect(findDuplicateKey(json)).toBe(name);
  });

  it.each([
    '{"a":"a","b":["a","a"],"c":{"a":1}}',
    '{"a":"x\\":","b":1}',
    '[{"a":1},{"a":1}]',
    '"a"',
    "{}",
  ])("finds none in %s", (json) => {
    expect(findDuplicateKey(json)).toBeNull();
  });

  it("finds none in anything JSON.stringify writes", () => {
    fc.assert(fc.property(fc.jsonValue(), (v) => {
      expect(findDuplicateKey(JSON.stringify(v))).toBeNull();
    }));
  });

  it("agrees with a plain count of the names of an object written by hand", () => {
    const name = fc.constantFrom("a", "b", "sub", "\u00e9", 'q"', "\\");
    fc.assert(fc.property(fc.array(fc.tuple(name, fc.jsonValue({ maxDepth: 2 })), { maxLength: 6 }), (members) => {
      const json = `{${members.map(([k, v]) => `${JSON.stringify(k)} : ${JSON.stringify(v)}`).join(",")}}`;
      const names = members.map(([k]) => k);
      const dup = names.find((k, i) => names.indexOf(k) !== i);
      expect(findDuplicateKey(json)).toBe(dup ?? null);
    }));
  });
});
