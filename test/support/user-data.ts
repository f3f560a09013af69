/** Reads back what a rendered host payload (cloud-config, startup-script, SSH command) installs. */
import YAML from "yaml";
import { BOOTSTRAP_PATH } from "../../modules/host/bootstrap";

/** The files avfleet-bootstrap installs, by path. */
export function bootstrapFiles(script: string): Map<string, string> {
  const files = new Map<string, string>();
  const put = /^put '([^']+)' \d+ <<'(\w+)'\n([\s\S]*?)^\2$/gm;
  for (const m of script.matchAll(put)) files.set(m[1], m[3]);
  return files;
}

export function cloudInit(userData: string): {
  marker: string;
  bootstrap: string;
  files: Map<string, string>;
  runcmd: string[][];
} {
  const [, marker] = userData.split("\n");
  const doc = YAML.parse(userData);
  const file = doc.write_files.find((f: { path: string }) => f.path === BOOTSTRAP_PATH);
  return {
    marker,
    bootstrap: file.content,
    files: bootstrapFiles(file.content),
    runcmd: doc.runcmd,
  };
}
