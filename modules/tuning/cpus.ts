/**
 * CPU lists (`2-15,18-31`, the kernel's and systemd's notation) and the hex masks that
 * /sys/class/net/<if>/queues/*\/{rps,xps}_cpus take: 32-bit groups, most significant
 * first, separated by commas.
 */

/** Expands a validated CPU list into ascending CPU numbers. */
export function parseCpuList(list: string): number[] {
  const cpus = new Set<number>();
  for (const part of list.split(",")) {
    const [from, to = from] = part.split("-").map(Number);
    for (let cpu = from; cpu <= to; cpu++) cpus.add(cpu);
  }
  return [...cpus].sort((a, b) => a - b);
}

/** The shortest CPU list for a set of CPUs, e.g. [0,1,2,5] → `0-2,5`. */
export function formatCpuList(cpus: readonly number[]): string {
  const sorted = [...new Set(cpus)].sort((a, b) => a - b);
  const ranges: string[] = [];
  for (let i = 0; i < sorted.length;) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
    ranges.push(i === j ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return ranges.join(",");
}

/** The sysfs mask for a set of CPUs on a host with `cores` CPUs. */
export function cpuMask(cpus: readonly number[], cores: number): string {
  const groups = Array.from({ length: Math.ceil(cores / 32) }, () => 0);
  for (const cpu of cpus) groups[Math.floor(cpu / 32)] |= 1 << (cpu % 32);
  const hex = groups.reverse().map((g) => (g >>> 0).toString(16).padStart(8, "0"));
  // The kernel prints the top group without padding to the CPU count; so does this.
  const digitsInTop = Math.ceil((cores - 32 * (hex.length - 1)) / 4);
  hex[0] = hex[0].slice(8 - digitsInTop);
  return hex.join(",");
}
