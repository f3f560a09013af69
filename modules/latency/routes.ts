/**
 * Where backbone traffic between two points actually runs: a graph of interconnection hubs
 * joined by the long-haul fibre and submarine cable systems cloud backbones are known to use.
 * Two points whose nearest hubs are at most DIRECT_HOPS links apart are joined along the great
 * circle (regional fibre is dense enough); otherwise the route is the shortest hub path — which is how Frankfurt–Dubai goes by way of
 * Marseille, Suez and the Red Sea, and São Paulo–Johannesburg by way of the US and Europe.
 *
 * The links are those the published round trips (rtt-*.yaml) show the backbones use, not every
 * cable that exists: EllaLink (Fortaleza–Sines) and SACS (Fortaleza–Luanda) are in service, yet
 * Azure, IBM and AWS all publish São Paulo–Europe at 186–202 ms and Azure São Paulo–Johannesburg
 * at 319 ms — the round trips of a route through the US, which is what the graph keeps.
 * Cable systems per link: TeleGeography's Submarine Cable Map, https://www.submarinecablemap.com.
 */
import { greatCircleKm, type Point } from "./geo";

const HUBS = {
  seattle: { lat: 47.61, lon: -122.33 },
  sanjose: { lat: 37.34, lon: -121.89 },
  losangeles: { lat: 34.05, lon: -118.24 },
  denver: { lat: 39.74, lon: -104.99 },
  dallas: { lat: 32.78, lon: -96.8 },
  chicago: { lat: 41.88, lon: -87.63 },
  atlanta: { lat: 33.75, lon: -84.39 },
  ashburn: { lat: 39.04, lon: -77.49 },
  newyork: { lat: 40.71, lon: -74.01 },
  toronto: { lat: 43.65, lon: -79.38 },
  miami: { lat: 25.76, lon: -80.19 },
  mexicocity: { lat: 19.43, lon: -99.13 },
  honolulu: { lat: 21.31, lon: -157.86 },
  guam: { lat: 13.44, lon: 144.79 },
  saopaulo: { lat: -23.55, lon: -46.63 },
  fortaleza: { lat: -3.73, lon: -38.52 },
  london: { lat: 51.51, lon: -0.13 },
  dublin: { lat: 53.35, lon: -6.26 },
  amsterdam: { lat: 52.37, lon: 4.9 },
  frankfurt: { lat: 50.11, lon: 8.68 },
  paris: { lat: 48.86, lon: 2.35 },
  marseille: { lat: 43.3, lon: 5.37 },
  madrid: { lat: 40.42, lon: -3.7 },
  lisbon: { lat: 38.72, lon: -9.14 },
  milan: { lat: 45.46, lon: 9.19 },
  zurich: { lat: 47.38, lon: 8.54 },
  copenhagen: { lat: 55.68, lon: 12.57 },
  stockholm: { lat: 59.33, lon: 18.07 },
  oslo: { lat: 59.91, lon: 10.75 },
  warsaw: { lat: 52.23, lon: 21.01 },
  telaviv: { lat: 32.09, lon: 34.78 },
  suez: { lat: 30.0, lon: 32.55 },
  djibouti: { lat: 11.59, lon: 43.15 },
  fujairah: { lat: 25.13, lon: 56.33 },
  mombasa: { lat: -4.04, lon: 39.67 },
  johannesburg: { lat: -26.2, lon: 28.05 },
  capetown: { lat: -33.92, lon: 18.42 },
  mumbai: { lat: 19.08, lon: 72.88 },
  chennai: { lat: 13.08, lon: 80.27 },
  singapore: { lat: 1.35, lon: 103.82 },
  jakarta: { lat: -6.21, lon: 106.85 },
  hongkong: { lat: 22.32, lon: 114.17 },
  tokyo: { lat: 35.68, lon: 139.69 },
  osaka: { lat: 34.69, lon: 135.5 },
  seoul: { lat: 37.57, lon: 126.98 },
  perth: { lat: -31.95, lon: 115.86 },
  sydney: { lat: -33.87, lon: 151.21 },
  melbourne: { lat: -37.81, lon: 144.96 },
  auckland: { lat: -36.85, lon: 174.76 },
} as const satisfies Record<string, Point>;

type Hub = keyof typeof HUBS;

/** [hub, hub, what carries it]: terrestrial long-haul fibre unless a cable system is named. */
const LINKS: [Hub, Hub, string][] = [
  ["seattle", "sanjose", "US west-coast fibre"],
  ["sanjose", "losangeles", "US west-coast fibre"],
  ["seattle", "chicago", "US northern long-haul fibre"],
  ["sanjose", "denver", "US central long-haul fibre"],
  ["losangeles", "dallas", "US southern long-haul fibre"],
  ["denver", "chicago", "US long-haul fibre"],
  ["denver", "dallas", "US long-haul fibre"],
  ["dallas", "chicago", "US long-haul fibre"],
  ["dallas", "atlanta", "US long-haul fibre"],
  ["dallas", "ashburn", "US long-haul fibre"],
  ["atlanta", "ashburn", "US east-coast fibre"],
  ["atlanta", "miami", "US east-coast fibre"],
  ["chicago", "ashburn", "US long-haul fibre"],
  ["chicago", "toronto", "US–Canada fibre"],
  ["toronto", "newyork", "US–Canada fibre"],
  ["newyork", "ashburn", "US east-coast fibre"],
  ["dallas", "mexicocity", "US–Mexico fibre"],
  ["seattle", "tokyo", "trans-Pacific cables landing in Oregon (FASTER)"],
  ["losangeles", "tokyo", "trans-Pacific cables landing in California (JUPITER)"],
  ["losangeles", "honolulu", "SEA-US, Southern Cross"],
  ["honolulu", "guam", "SEA-US"],
  ["honolulu", "sydney", "Southern Cross"],
  ["honolulu", "auckland", "Southern Cross"],
  ["guam", "tokyo", "Japan-Guam-Australia (JGA-N)"],
  ["guam", "hongkong", "HK-G"],
  ["guam", "sydney", "Japan-Guam-Australia (JGA-S)"],
  ["newyork", "london", "trans-Atlantic cables (e.g. Grace Hopper, New York–Bude)"],
  ["newyork", "dublin", "Havfrue/AEC-2"],
  ["ashburn", "paris", "Dunant (Virginia Beach–Saint-Hilaire-de-Riez)"],
  ["ashburn", "madrid", "MAREA (Virginia Beach–Bilbao)"],
  ["miami", "fortaleza", "Monet, GlobeNet"],
  ["miami", "saopaulo", "Monet (Boca Raton–Santos)"],
  ["saopaulo", "fortaleza", "Brazilian long-haul fibre"],
  ["london", "dublin", "Irish Sea cables"],
  ["london", "amsterdam", "North Sea cables"],
  ["london", "paris", "Channel cables"],
  ["london", "lisbon", "WACS and SAT-3 landings"],
  ["london", "oslo", "North Sea cables"],
  ["amsterdam", "frankfurt", "European long-haul fibre"],
  ["paris", "frankfurt", "European long-haul fibre"],
  ["paris", "marseille", "European long-haul fibre"],
  ["paris", "madrid", "European long-haul fibre"],
  ["madrid", "lisbon", "Iberian fibre"],
  ["madrid", "marseille", "European long-haul fibre"],
  ["marseille", "milan", "European long-haul fibre"],
  ["frankfurt", "zurich", "European long-haul fibre"],
  ["paris", "zurich", "European long-haul fibre"],
  ["zurich", "milan", "European long-haul fibre"],
  ["frankfurt", "warsaw", "European long-haul fibre"],
  ["amsterdam", "copenhagen", "European long-haul fibre"],
  ["frankfurt", "copenhagen", "European long-haul fibre"],
  ["copenhagen", "stockholm", "Nordic fibre"],
  ["copenhagen", "oslo", "Nordic fibre"],
  ["milan", "telaviv", "Blue-Raman (Genoa–Tel Aviv)"],
  ["marseille", "suez", "SEA-ME-WE 5, AAE-1, 2Africa (across Egypt)"],
  ["suez", "djibouti", "Red Sea segment of SEA-ME-WE 5, AAE-1, PEACE"],
  ["djibouti", "mumbai", "SEA-ME-WE 4/5, AAE-1"],
  ["djibouti", "fujairah", "AAE-1, SEA-ME-WE 5"],
  ["fujairah", "mumbai", "FALCON, IMEWE"],
  ["djibouti", "mombasa", "Seacom, EASSy"],
  ["mombasa", "johannesburg", "Seacom and EASSy landings in South Africa"],
  ["johannesburg", "capetown", "South African long-haul fibre"],
  ["capetown", "lisbon", "WACS, SAT-3, Equiano"],
  ["mumbai", "chennai", "Indian long-haul fibre"],
  ["mumbai", "singapore", "SEA-ME-WE 5, AAE-1"],
  ["chennai", "singapore", "i2i, TIC"],
  ["singapore", "jakarta", "Singapore–Indonesia cables"],
  ["singapore", "hongkong", "APG, AAE-1, SJC"],
  ["hongkong", "tokyo", "APG, SJC"],
  ["hongkong", "seoul", "APG"],
  ["tokyo", "osaka", "Japanese fibre"],
  ["osaka", "seoul", "Korea–Japan cables (Busan–Fukuoka)"],
  ["singapore", "perth", "Indigo West, ASC"],
  ["perth", "sydney", "Indigo Central, Australian fibre"],
  ["sydney", "melbourne", "Australian fibre"],
  ["sydney", "auckland", "Tasman Global Access"],
];

const NAMES = Object.keys(HUBS) as Hub[];
/**
 * Hubs this few links apart are one region: Berlin–Warsaw runs straight, not through Copenhagen
 * and Frankfurt. Further apart, the published figures follow the hub path (Frankfurt–Dubai
 * 119 ms over a 4,840 km great circle: the 8,400 km by Marseille and the Red Sea).
 */
const DIRECT_HOPS = 2;

interface Paths {
  km: number[][];
  next: number[][];
  hops: number[][];
}

let paths: Paths | undefined;

/** All-pairs shortest hub paths (Floyd–Warshall: 48 hubs, computed once). */
function hubPaths(): Paths {
  if (paths) return paths;
  const n = NAMES.length;
  const index = new Map(NAMES.map((name, i) => [name, i]));
  const km = NAMES.map((_, i) => NAMES.map((__, j) => (i === j ? 0 : Infinity)));
  const next = NAMES.map(() => NAMES.map((_, j) => j));
  const hops = km.map((row) => row.map((d) => (d === 0 ? 0 : Infinity)));
  for (const [a, b] of LINKS) {
    const [i, j] = [index.get(a)!, index.get(b)!];
    km[i][j] = km[j][i] = greatCircleKm(HUBS[a], HUBS[b]);
    hops[i][j] = hops[j][i] = 1;
  }
  for (let k = 0; k < n; k++)
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) {
        if (km[i][k] + km[k][j] < km[i][j]) {
          km[i][j] = km[i][k] + km[k][j];
          next[i][j] = next[i][k];
        }
        hops[i][j] = Math.min(hops[i][j], hops[i][k] + hops[k][j]);
      }
  paths = { km, next, hops };
  return paths;
}

function nearestHub(p: Point): { hub: number; km: number } {
  return NAMES.map((name, hub) => ({ hub, km: greatCircleKm(p, HUBS[name]) })).reduce((x, y) =>
    y.km < x.km ? y : x,
  );
}

export interface Route {
  /** Length of the route the traffic takes, km (≥ the great circle). */
  km: number;
  greatCircleKm: number;
  /** Hubs the route passes through; empty when it follows the great circle. */
  via: string[];
}

export function route(a: Point, b: Point): Route {
  const direct = greatCircleKm(a, b);
  const { km, next, hops } = hubPaths();
  const ha = nearestHub(a);
  const hb = nearestHub(b);
  if (hops[ha.hub][hb.hub] <= DIRECT_HOPS) return { km: direct, greatCircleKm: direct, via: [] };
  const via = [NAMES[ha.hub]];
  for (let h = ha.hub; h !== hb.hub;) via.push(NAMES[(h = next[h][hb.hub])]);
  // The hub path can only lengthen the trip; a point far off its hub still has the great circle as floor.
  return { km: Math.max(direct, ha.km + km[ha.hub][hb.hub] + hb.km), greatCircleKm: direct, via };
}

export const ROUTE_GRAPH = { hubs: HUBS, links: LINKS };
