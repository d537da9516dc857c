import type { Reason } from "../core/reason.js";

/** A line in Vietnamese with its English for visitors. */
export interface BilingualText {
  readonly vi: string;
  readonly en: string;
}

export interface ReasonText {
  /** What happened, in plain words. */
  readonly title: BilingualText;
  /** What to do next, when there is something to do. */
  readonly next: BilingualText | null;
}

const SEE_STAFF: BilingualText = { vi: "Vui lòng gặp nhân viên tại bàn", en: "Please see the staff at the desk" };
const SCAN_AGAIN: BilingualText = { vi: "Vui lòng quét lại mã", en: "Please scan the code again" };
const FRESH_CODE: BilingualText = { vi: "Vui lòng mở ứng dụng để lấy mã mới", en: "Please open the app for a new code" };
const ENTER: BilingualText = { vi: "Mời vào", en: "Please enter" };

/**
 * The words on the door's screen for every reason the gate can give (src/core/reason.ts): the `Record` makes a
 * new reason code a compile error here until it has its text. No text names a disease status more than the
 * person needs to know what to do.
 */
export const REASON_TEXTS: Readonly<Record<Reason, ReasonText>> = {
  ok: { title: ENTER, next: null },
  staff: { title: ENTER, next: null },
  unknown_allowed: { title: ENTER, next: null },
  manual: { title: ENTER, next: null },
  blocked: { title: { vi: "Không được phép vào", en: "Entry not permitted" }, next: SEE_STAFF },
  infected: { title: { vi: "Đang mắc COVID-19 (F0)", en: "Recorded as COVID-19 positive (F0)" }, next: SEE_STAFF },
  quarantine: { title: { vi: "Đang trong thời gian cách ly (F1)", en: "In quarantine (F1)" }, next: SEE_STAFF },
  red_zone: { title: { vi: "Đến từ vùng nguy cơ cao (vùng đỏ)", en: "From a high-risk (red) zone" }, next: SEE_STAFF },
  insufficient_vaccination: { title: { vi: "Chưa đủ mũi tiêm", en: "Not fully vaccinated" }, next: SEE_STAFF },
  unknown_subject: { title: { vi: "Chưa có thông tin sức khỏe", en: "No health record found" }, next: SEE_STAFF },
  identity_mismatch: { title: { vi: "Thông tin trên thẻ không khớp", en: "Card details do not match" }, next: SEE_STAFF },
  bad_format: { title: { vi: "Không đọc được mã", en: "Code not recognised" }, next: SCAN_AGAIN },
  bad_signature: { title: { vi: "Mã không hợp lệ", en: "Invalid code" }, next: SEE_STAFF },
  unknown_key: { title: { vi: "Mã không được chấp nhận tại đây", en: "Code not accepted here" }, next: SEE_STAFF },
  expired: { title: { vi: "Mã đã hết hạn", en: "Code has expired" }, next: FRESH_CODE },
  not_yet_valid: {
    title: { vi: "Mã chưa có hiệu lực", en: "Code not valid yet" },
    next: { vi: "Vui lòng kiểm tra giờ trên điện thoại", en: "Please check the time on your phone" },
  },
  replayed: { title: { vi: "Mã đã được sử dụng", en: "Code already used" }, next: FRESH_CODE },
  budget_exceeded: { title: { vi: "Hệ thống đang bận", en: "System busy" }, next: SCAN_AGAIN },
  lockdown: { title: { vi: "Cổng đang tạm đóng", en: "Gate temporarily closed" }, next: SEE_STAFF },
  journal_unavailable: { title: { vi: "Thiết bị đang gặp sự cố", en: "Reader fault" }, next: SEE_STAFF },
  card_not_accepted: {
    title: { vi: "Nơi này không nhận mã trên CCCD", en: "ID card codes are not accepted here" },
    next: { vi: "Vui lòng dùng mã trên ứng dụng", en: "Please use the code in the app" },
  },
};

/** For a reason this build does not know (a newer gate, a corrupted value): refuse in words, send to the staff. */
export const UNKNOWN_DENY_TEXT: ReasonText = { title: { vi: "Không thể vào", en: "Entry refused" }, next: SEE_STAFF };

/** The text for a decision; an unknown reason gets the safe fallback of its decision, never nothing. */
export function reasonText(decision: "allow" | "deny", reason: string): ReasonText {
  const known = Object.hasOwn(REASON_TEXTS, reason) ? REASON_TEXTS[reason as Reason] : undefined;
  if (known !== undefined && (known.title === ENTER) === (decision === "allow")) return known;
  return decision === "allow" ? { title: ENTER, next: null } : UNKNOWN_DENY_TEXT;
}
