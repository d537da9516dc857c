import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseCccd } from "../../src/core/cccd.js";
import type { CardCredential } from "../../src/core/credential.js";

const EXAMPLE = "001099012345|123456789|Nguyễn Văn An|01011990|Nam|Số 1 Phố Huế, Hai Bà Trưng, Hà Nội|15062021";

const EXAMPLE_CARD: CardCredential = {
  kind: "cccd",
  id: "001099012345",
  oldId: "123456789",
  name: "Nguyễn Văn An",
  dob: "1990-01-01",
  sex: "M",
  address: "Số 1 Phố Huế, Hai Bà Trưng, Hà Nội",
  issuedOn: "2021-06-15",
};

function parsed(text: string): CardCredential {
  const r = parseCccd(text);
  if (!r.ok) throw new Error(`expected a card, got: ${r.error.detail}`);
  return r.value;
}

function detailOf(text: string): string {
  const r = parseCccd(text);
  if (r.ok) throw new Error("expected a rejection");
  expect(r.error.kind).toBe("cccd");
  expect(r.error.reason).toBe("bad_format");
  return r.error.detail;
}

describe("parseCccd: accepted variants", () => {
  const cases: { it: string; text: string; expected: Partial<CardCredential> }[] = [
    { it: "accepts the 7-field card of docs/contract.md §3.1", text: EXAMPLE, expected: EXAMPLE_CARD },
    {
      it: "accepts an empty old ID and returns it as null",
      text: "001099012345||Nguyễn Văn An|01011990|Nam|Hà Nội|15062021",
      expected: { oldId: null, name: "Nguyễn Văn An" },
    },
    {
      it: "accepts a 12-digit old ID",
      text: "001099012345|001099012399|Nguyễn Văn An|01011990|Nam|Hà Nội|15062021",
      expected: { oldId: "001099012399" },
    },
    {
      it: "accepts the 6-field form with dd/MM/yyyy dates",
      text: "094083123451|Nguyễn Gia Mạnh|21/03/1983|Nam|Phường 1, Sóc Trăng|06/04/2021",
      expected: {
        id: "094083123451",
        oldId: null,
        name: "Nguyễn Gia Mạnh",
        dob: "1983-03-21",
        sex: "M",
        address: "Phường 1, Sóc Trăng",
        issuedOn: "2021-04-06",
      },
    },
    {
      it: "accepts the 6-field form with ddmmyyyy dates",
      text: "094083123451|Nguyễn Gia Mạnh|21031983|Nam|Sóc Trăng|06042021",
      expected: { dob: "1983-03-21", issuedOn: "2021-04-06", oldId: null },
    },
    {
      it: "accepts dd/MM/yyyy dates in the 7-field form",
      text: "001099012345||Nguyễn Văn An|01/01/1990|Nam|Hà Nội|15/06/2021",
      expected: { dob: "1990-01-01", issuedOn: "2021-06-15" },
    },
    {
      it: "accepts one date in each format on the same card",
      text: "001099012345||Nguyễn Văn An|01011990|Nam|Hà Nội|15/06/2021",
      expected: { dob: "1990-01-01", issuedOn: "2021-06-15" },
    },
    {
      it: "reads Nữ as F",
      text: "001099012345||Trần Thị Bình|05051985|Nữ|Hà Nội|15062021",
      expected: { sex: "F" },
    },
    { it: "reads Nu as F", text: "001099012345||Tran Thi Binh|05051985|Nu|Ha Noi|15062021", expected: { sex: "F" } },
    {
      it: "reads NỮ in capitals as F",
      text: "001099012345||TRẦN THỊ BÌNH|05051985|NỮ|HÀ NỘI|15062021",
      expected: { sex: "F", name: "TRẦN THỊ BÌNH" },
    },
    { it: "reads NAM in capitals as M", text: "001099012345||NGUYEN VAN AN|01011990|NAM|HA NOI|15062021", expected: { sex: "M" } },
    { it: "reads NU in capitals as F", text: "001099012345||TRAN THI BINH|05051985|NU|HA NOI|15062021", expected: { sex: "F" } },
    {
      it: "keeps a name in capitals without diacritics as it is",
      text: "001099012345||NGUYEN VAN AN|01011990|Nam|Ha Noi|15062021",
      expected: { name: "NGUYEN VAN AN" },
    },
    {
      it: "normalizes NFD text to NFC",
      text: "001099012345||Nguyễn Văn An|01011990|Nữ|Hà Nội|15062021".normalize("NFD"),
      expected: { name: "Nguyễn Văn An".normalize("NFC"), sex: "F", address: "Hà Nội".normalize("NFC") },
    },
    {
      it: "accepts the 11-field 2024 card with its extra fields empty",
      text: "001099004567||Lương Văn Nam|30121999|Nam|Vĩnh Tường, Vĩnh Phúc|01082024||||",
      expected: {
        id: "001099004567",
        oldId: null,
        name: "Lương Văn Nam",
        dob: "1999-12-30",
        sex: "M",
        address: "Vĩnh Tường, Vĩnh Phúc",
        issuedOn: "2024-08-01",
      },
    },
    {
      it: "tolerates a leading BOM and a trailing CR LF",
      text: "\uFEFF" + EXAMPLE + "\r\n",
      expected: EXAMPLE_CARD,
    },
    { it: "tolerates trailing NULs", text: EXAMPLE + "\0\0", expected: EXAMPLE_CARD },
    {
      it: "never splits the address on commas, doubled or not",
      text: "001099012345||Nguyễn Văn An|01011990|Nam|Thôn 3,, xã Tân Lập, , Hà Nội|15062021",
      expected: { address: "Thôn 3,, xã Tân Lập, , Hà Nội", issuedOn: "2021-06-15" },
    },
    {
      it: "accepts an empty address",
      text: "001099012345||Nguyễn Văn An|01011990|Nam||15062021",
      expected: { address: "" },
    },
    {
      it: "accepts 29 February in a leap year",
      text: "001099012345||Nguyễn Văn An|29022000|Nam|Hà Nội|29/02/2024",
      expected: { dob: "2000-02-29", issuedOn: "2024-02-29" },
    },
    {
      it: "accepts a card issued on the day of birth",
      text: "001099012345||Nguyễn Văn An|01012021|Nam|Hà Nội|01012021",
      expected: { dob: "2021-01-01", issuedOn: "2021-01-01" },
    },
  ];

  for (const c of cases) {
    it(c.it, () => {
      expect(parsed(c.text)).toMatchObject(c.expected);
    });
  }

  it("leaves the 2024 card's extra fields (other people's data) out of the result", () => {
    const text = "001099004567||Lương Văn Nam|30121999|Nam|Vĩnh Phúc|01082024|079099001111|Lương Văn Bố|Trần Thị Mẹ|X9";
    const card = parsed(text);
    expect(Object.keys(card).sort()).toEqual(["address", "dob", "id", "issuedOn", "kind", "name", "oldId", "sex"]);
    const json = JSON.stringify(card);
    for (const extra of ["079099001111", "Lương Văn Bố", "Trần Thị Mẹ", "X9"]) expect(json).not.toContain(extra);
  });
});

describe("parseCccd: rejections name the field and what was expected", () => {
  const base = ["001099012345", "123456789", "Nguyễn Văn An", "01011990", "Nam", "Hà Nội", "15062021"];
  const with7 = (i: number, v: string): string => base.map((f, j) => (j === i ? v : f)).join("|");
  const six = ["094083123451", "Nguyễn Gia Mạnh", "21/03/1983", "Nam", "Sóc Trăng", "06/04/2021"];
  const with6 = (i: number, v: string): string => six.map((f, j) => (j === i ? v : f)).join("|");

  const cases: { it: string; text: string; detail: string }[] = [
    { it: "rejects an empty code", text: "", detail: "empty code" },
    { it: "rejects a code that is only a CR LF", text: "\r\n", detail: "empty code" },
    { it: "rejects 5 fields", text: base.slice(0, 5).join("|"), detail: 'expected 6, 7 or 11 fields separated by "|", got 5' },
    { it: "rejects 8 fields", text: EXAMPLE + "|", detail: 'expected 6, 7 or 11 fields separated by "|", got 8' },
    { it: "rejects text without separators", text: "hello", detail: 'expected 6, 7 or 11 fields separated by "|", got 1' },
    { it: "rejects an 11-digit ID", text: with7(0, "00109901234"), detail: "field 1 (ID): expected 12 digits, got 11 digits" },
    { it: "rejects a 13-digit ID", text: with7(0, "0010990123456"), detail: "field 1 (ID): expected 12 digits, got 13 digits" },
    {
      it: "rejects an ID with a letter",
      text: with7(0, "00109901234X"),
      detail: "field 1 (ID): expected 12 digits, got 12 characters, not all digits",
    },
    {
      it: "rejects an ID with full-width digits",
      text: with7(0, "００１０９９０１２３４５"),
      detail: "field 1 (ID): expected 12 digits, got 12 characters, not all digits",
    },
    { it: "rejects an empty ID", text: with7(0, ""), detail: "field 1 (ID): expected 12 digits, got empty" },
    { it: "rejects an ID with a surrounding space", text: with7(0, " 001099012345"), detail: "field 1 (ID): expected 12 digits, got 13 characters, not all digits" },
    {
      it: "rejects an 8-digit old ID",
      text: with7(1, "12345678"),
      detail: "field 2 (old ID): expected empty or 9 to 12 digits, got 8 digits",
    },
    {
      it: "rejects a 13-digit old ID",
      text: with7(1, "1234567890123"),
      detail: "field 2 (old ID): expected empty or 9 to 12 digits, got 13 digits",
    },
    {
      it: "rejects an old ID with letters",
      text: with7(1, "12345678A"),
      detail: "field 2 (old ID): expected empty or 9 to 12 digits, got 9 characters, not all digits",
    },
    { it: "rejects an empty name", text: with7(2, ""), detail: "field 3 (name): expected a name, got an empty field" },
    { it: "rejects a blank name", text: with7(2, "   "), detail: "field 3 (name): expected a name, got an empty field" },
    { it: "rejects a name with digits", text: with7(2, "Nguyễn Văn 4n"), detail: "field 3 (name): expected a name, got text with digits" },
    {
      it: "rejects a 7-digit date of birth",
      text: with7(3, "3112199"),
      detail: 'field 4 (date of birth): expected ddmmyyyy or dd/MM/yyyy, got "3112199"',
    },
    {
      it: "rejects a d/M/yyyy date of birth",
      text: with7(3, "1/3/1983"),
      detail: 'field 4 (date of birth): expected ddmmyyyy or dd/MM/yyyy, got "1/3/1983"',
    },
    {
      it: "rejects a yyyy-MM-dd date of birth",
      text: with7(3, "1990-01-01"),
      detail: 'field 4 (date of birth): expected ddmmyyyy or dd/MM/yyyy, got "1990-01-01"',
    },
    {
      it: "rejects an empty date of birth",
      text: with7(3, ""),
      detail: "field 4 (date of birth): expected ddmmyyyy or dd/MM/yyyy, got empty",
    },
    {
      it: "rejects 29 February in a year that is not a leap year",
      text: with7(3, "29022001"),
      detail: 'field 4 (date of birth): "29022001" is not a calendar date (day 29 of a 28-day month)',
    },
    {
      it: "rejects 29 February 1900 (a century that is not a leap year)",
      text: with7(3, "29021900"),
      detail: 'field 4 (date of birth): "29021900" is not a calendar date (day 29 of a 28-day month)',
    },
    {
      it: "rejects 31 April",
      text: with7(3, "31/04/1990"),
      detail: 'field 4 (date of birth): "31/04/1990" is not a calendar date (day 31 of a 30-day month)',
    },
    {
      it: "rejects day 0",
      text: with7(3, "00011990"),
      detail: 'field 4 (date of birth): "00011990" is not a calendar date (day 0 of a 31-day month)',
    },
    {
      it: "rejects month 13",
      text: with7(3, "01131990"),
      detail: 'field 4 (date of birth): month 13 does not exist (got "01131990")',
    },
    {
      it: "rejects a year before 1900",
      text: with7(3, "01011850"),
      detail: 'field 4 (date of birth): year 1850 is outside 1900..2099 (got "01011850")',
    },
    { it: "rejects sex X", text: with7(4, "X"), detail: 'field 5 (sex): expected Nam, Nữ or Nu, got "X"' },
    { it: "rejects an empty sex", text: with7(4, ""), detail: "field 5 (sex): expected Nam, Nữ or Nu, got empty" },
    {
      it: "describes a long sex field by its length only",
      text: with7(4, "Nguyễn Văn An"),
      detail: "field 5 (sex): expected Nam, Nữ or Nu, got 13 characters",
    },
    {
      it: "rejects an impossible issue date",
      text: with7(6, "31062021"),
      detail: 'field 7 (issue date): "31062021" is not a calendar date (day 31 of a 30-day month)',
    },
    {
      it: "rejects a birth after the issue date",
      text: with7(3, "16062021"),
      detail: "date of birth 2021-06-16 is after issue date 2021-06-15",
    },
    {
      it: "numbers the fields of the 6-field form by their own position",
      text: with6(2, "21/13/1983"),
      detail: 'field 3 (date of birth): month 13 does not exist (got "21/13/1983")',
    },
    {
      it: "rejects a bad issue date in the 6-field form as field 6",
      text: with6(5, "06/04/21"),
      detail: 'field 6 (issue date): expected ddmmyyyy or dd/MM/yyyy, got "06/04/21"',
    },
    {
      it: "rejects a 6-field form whose first field is not an ID",
      text: with6(0, "Nguyễn"),
      detail: "field 1 (ID): expected 12 digits, got 6 characters, not all digits",
    },
    {
      it: "rejects a control character",
      text: with7(5, "Hà\u0007Nội"),
      detail: "control character U+0007 at offset 52",
    },
    {
      it: "rejects a tab",
      text: "\t" + EXAMPLE,
      detail: "control character U+0009 at offset 0",
    },
  ];

  for (const c of cases) {
    it(c.it, () => {
      expect(detailOf(c.text)).toBe(c.detail);
    });
  }

  it("never echoes an ID number that landed in a date field", () => {
    const d = detailOf(with7(3, "001099012345"));
    expect(d).toBe("field 4 (date of birth): expected ddmmyyyy or dd/MM/yyyy, got 12 digits");
  });

  it("never echoes a 9-digit old ID that landed in a date field", () => {
    expect(detailOf(with7(3, "123456789"))).toBe(
      "field 4 (date of birth): expected ddmmyyyy or dd/MM/yyyy, got 9 digits",
    );
  });

  it("never echoes a name that landed in a date field", () => {
    expect(detailOf(with7(3, "Lê Văn An"))).toBe(
      "field 4 (date of birth): expected ddmmyyyy or dd/MM/yyyy, got 9 characters, not all digits",
    );
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Property-based

const SURNAMES = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô", "Dương", "Lý"];
const MIDDLES = ["Văn", "Thị", "Hữu", "Đức", "Ngọc", "Minh", "Thị Thu", "Gia", "Quốc"];
const GIVEN = ["An", "Bình", "Cường", "Dũng", "Hạnh", "Hương", "Khánh", "Lộc", "Mạnh", "Nữ", "Phượng", "Quỳnh", "Sơn", "Thủy", "Uyên", "Yến", "Ánh"];

const digits = (min: number, max: number): fc.Arbitrary<string> =>
  fc.string({ unit: fc.constantFrom(..."0123456789"), minLength: min, maxLength: max });

const nameArb = fc
  .tuple(fc.constantFrom(...SURNAMES), fc.constantFrom(...MIDDLES), fc.constantFrom(...GIVEN), fc.boolean())
  .map(([s, m, g, upper]) => {
    const n = `${s} ${m} ${g}`;
    return upper ? n.toUpperCase() : n;
  });

/** An address: Vietnamese words, numbers and commas (sometimes doubled), never a `|` or a control character. */
const addressArb = fc
  .array(fc.oneof(fc.constantFrom("Số", "Phố", "Huế", "Hà Nội", "Thôn", "xã", "Đống Đa", "Quận 1", "TP. Hồ Chí Minh"), digits(1, 3)), {
    maxLength: 8,
  })
  .chain((words) => fc.constantFrom(", ", ",, ", " ").map((sep) => words.join(sep)));

/** A day between 1900-01-01 and 2099-12-31 as days since the Unix epoch. */
const dayArb = fc.integer({ min: Date.UTC(1900, 0, 1) / 86_400_000, max: Date.UTC(2099, 11, 31) / 86_400_000 });
const isoOf = (day: number): string => new Date(day * 86_400_000).toISOString().slice(0, 10);
const cardDate = (iso: string, slashes: boolean): string => {
  const [y, m, d] = iso.split("-") as [string, string, string];
  return slashes ? `${d}/${m}/${y}` : `${d}${m}${y}`;
};

interface GeneratedCard {
  readonly text: string;
  readonly expected: CardCredential;
}

const cardArb: fc.Arbitrary<GeneratedCard> = fc
  .record({
    id: digits(12, 12),
    oldId: fc.oneof(fc.constant(""), digits(9, 12)),
    name: nameArb,
    days: fc.tuple(dayArb, dayArb),
    sex: fc.constantFrom("Nam", "NAM", "nam", "Nữ", "NỮ", "Nu", "NU"),
    address: addressArb,
    fields: fc.constantFrom(6, 7, 11),
    slashes: fc.tuple(fc.boolean(), fc.boolean()),
    nfd: fc.boolean(),
    bom: fc.boolean(),
    suffix: fc.constantFrom("", "\r", "\n", "\r\n", "\0"),
    extras: fc.array(fc.oneof(fc.constant(""), nameArb, digits(12, 12)), { minLength: 4, maxLength: 4 }),
  })
  .map((g) => {
    const [a, b] = g.days;
    const dob = isoOf(Math.min(a, b));
    const issuedOn = isoOf(Math.max(a, b));
    const dobText = cardDate(dob, g.slashes[0]);
    const issueText = cardDate(issuedOn, g.slashes[1]);
    const head = g.fields === 6 ? [g.id] : [g.id, g.oldId];
    const fields = [...head, g.name, dobText, g.sex, g.address, issueText, ...(g.fields === 11 ? g.extras : [])];
    let text = fields.join("|");
    if (g.nfd) text = text.normalize("NFD");
    text = (g.bom ? "\uFEFF" : "") + text + g.suffix;
    const expected: CardCredential = {
      kind: "cccd",
      id: g.id,
      oldId: g.fields === 6 || g.oldId === "" ? null : g.oldId,
      name: g.name.normalize("NFC"),
      dob,
      sex: g.sex.toLowerCase() === "nam" ? "M" : "F",
      address: g.address.trim().normalize("NFC"),
      issuedOn,
    };
    return { text, expected };
  });

describe("parseCccd: properties", () => {
  it("never throws on arbitrary strings", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 200 }), (s) => {
        expect(typeof parseCccd(s).ok).toBe("boolean");
      }),
      { numRuns: 2000 },
    );
  });

  it("never throws on arbitrary strings of |-separated fields", () => {
    const field = fc.string({ unit: fc.constantFrom(..."0123456789/ aăâNnưữ|\r\n\0\uFEFF"), maxLength: 14 });
    fc.assert(
      fc.property(fc.array(field, { maxLength: 12 }), (fs) => {
        expect(typeof parseCccd(fs.join("|")).ok).toBe("boolean");
      }),
      { numRuns: 2000 },
    );
  });

  it("never throws on 10 kB inputs", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", minLength: 10_000, maxLength: 10_240 }), (s) => {
        expect(typeof parseCccd(s).ok).toBe("boolean");
      }),
      { numRuns: 30 },
    );
  });

  it("round-trips generated valid cards in every variant", () => {
    fc.assert(
      fc.property(cardArb, ({ text, expected }) => {
        expect(parseCccd(text)).toEqual({ ok: true, value: expected });
      }),
      { numRuns: 1000 },
    );
  });

  it("never puts the ID or the name of a corrupted card in the detail", () => {
    const corruptions = fc.record({
      field: fc.integer({ min: 0, max: 6 }),
      value: fc.oneof(fc.constant(""), fc.string({ maxLength: 12 }), digits(1, 14), fc.constant("001099012345")),
    });
    fc.assert(
      fc.property(cardArb, corruptions, ({ expected }, { field, value }) => {
        const fields = [
          expected.id,
          expected.oldId ?? "",
          expected.name,
          cardDate(expected.dob, false),
          expected.sex === "M" ? "Nam" : "Nữ",
          expected.address,
          cardDate(expected.issuedOn, true),
        ];
        // Put the ID or the name into another field, or something random into any field.
        const source = [expected.id, expected.name, value][field % 3] ?? value;
        fields[field] = source;
        const r = parseCccd(fields.join("|"));
        if (!r.ok) {
          expect(r.error.detail).not.toContain(expected.id);
          expect(r.error.detail).not.toContain(expected.name);
        }
      }),
      { numRuns: 1000 },
    );
  });
});
