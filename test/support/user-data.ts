/** Reads back what a rendered cloud-init document installs and runs. */
import { gunzipSync } from "node:zlib";
import YAML from "yaml";

export function cloudInit(userData: string): {
  marker: string;
  script: string;
  runcmd: string[][];
} {
  const [, marker] = userData.split("\n");
  const doc = YAML.parse(userData);
  const file = doc.write_files.find(
    (f: { path: string }) => f.path === "/usr/local/sbin/avfleet-tune",
  );
  return {
    marker,
    script: gunzipSync(Buffer.from(file.content, "base64")).toString("utf8"),
    runcmd: doc.runcmd,
  };
}
