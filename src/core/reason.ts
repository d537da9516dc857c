/** Reason codes of docs/contract.md §4 (contract): every decision carries exactly one. */
export const ALLOW_REASONS = ["ok", "staff", "unknown_allowed", "manual"] as const;
export const DENY_REASONS = [
  "blocked",
  "infected",
  "quarantine",
  "red_zone",
  "insufficient_vaccination",
  "unknown_subject",
  "identity_mismatch",
  "bad_format",
  "bad_signature",
  "unknown_key",
  "expired",
  "not_yet_valid",
  "replayed",
  "budget_exceeded",
  "lockdown",
  "journal_unavailable",
  "card_not_accepted",
] as const;

export type AllowReason = (typeof ALLOW_REASONS)[number];
export type DenyReason = (typeof DENY_REASONS)[number];
export type Reason = AllowReason | DenyReason;
