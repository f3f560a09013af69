/** Every provider rule the lifecycle model knows, in one list for the docs test and the bench. */
import { AWS_RULES } from "./aws";
import { COMMAND_RULES } from "./command";
import { GCP_RULES } from "./gcp";
import { FORCE_NEW, IGNORE_CHANGES } from "./replacement";
import { SYSTEMD_RULES } from "./systemd";

export const ALL_RULES = [
  ...GCP_RULES,
  ...AWS_RULES,
  ...SYSTEMD_RULES,
  ...COMMAND_RULES,
  FORCE_NEW,
  IGNORE_CHANGES,
];
