import type { IncomingMessage } from "node:http";
import { describe, expect, it } from "vitest";
import { basicAuthOk, isLoopback } from "../../src/http/basic-auth.js";

const req = (authorization?: string) => ({ headers: authorization === undefined ? {} : { authorization } }) as unknown as IncomingMessage;
const basic = (s: string) => `Basic ${Buffer.from(s, "utf8").toString("base64")}`;
const login = { user: "admin", password: "correct horse" };

describe("the dashboard login", () => {
  it("accepts the right user and password, including ':' in the password", () => {
    expect(basicAuthOk(req(basic("admin:correct horse")), login)).toBe(true);
    expect(basicAuthOk(req(basic("admin:a:b:c")), { user: "admin", password: "a:b:c" })).toBe(true);
  });

  it.each([
    ["no header", undefined],
    ["a wrong password", basic("admin:correct hors")],
    ["a wrong user", basic("Admin:correct horse")],
    ["no colon", basic("admincorrect horse")],
    ["another scheme", "Bearer abc"],
    ["garbage base64", "Basic %%%"],
    ["an empty password", basic("admin:")],
  ])("refuses %s", (_what, header) => {
    expect(basicAuthOk(req(header), login)).toBe(false);
  });

  it.each([["127.0.0.1", true], ["127.1.2.3", true], ["::1", true], ["localhost", true], ["0.0.0.0", false], ["::", false], ["192.168.1.10", false]])(
    "%s is loopback: %s",
    (bind, loop) => {
      expect(isLoopback(bind)).toBe(loop);
    },
  );
});
