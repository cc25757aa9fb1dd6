/**
 * The real-data scenario: Seattle and New York daily weather 2012–2015 (vega-datasets 1.31.1), read from
 * disk. From April 2013 the source labels many wet days "fog" or "sun" instead of "rain": a documented
 * label shift that a model trained on 2012 does not survive.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { parse } from 'csv-parse/sync';
import { z } from 'zod';
import type { ModelDefinition } from '../core/schemas.js';
import { ModelDefinition as ModelDefinitionSchema } from '../core/schemas.js';

export interface WeatherRow {
  recordKey: string;
  date: string;
  ts: string;
  features: {
    location: string;
    precipitation: number;
    temp_max: number;
    temp_min: number;
    wind: number;
    season_sin: number;
    season_cos: number;
  };
  label: string;
}

const CsvRow = z.object({
  location: z.string().min(1),
  date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
  precipitation: z.coerce.number().finite(),
  temp_max: z.coerce.number().finite(),
  temp_min: z.coerce.number().finite(),
  wind: z.coerce.number().finite(),
  weather: z.string().min(1),
});

export function weatherCsvPath(): string {
  return createRequire(import.meta.url).resolve('vega-datasets/data/weather.csv');
}

export async function loadWeather(path = weatherCsvPath()): Promise<WeatherRow[]> {
  const records: unknown[] = parse(await readFile(path, 'utf8'), { columns: true, skip_empty_lines: true });
  return records.map((raw, i) => {
    const r = CsvRow.safeParse(raw);
    if (!r.success)
      throw new Error(
        `${path} line ${i + 2}: ${r.error.issues.map((x) => `${x.path.join('.')}: ${x.message}`).join('; ')}`,
      );
    const d = r.data;
    const dayOfYear =
      (Date.parse(`${d.date}T00:00:00Z`) - Date.parse(`${d.date.slice(0, 4)}-01-01T00:00:00Z`)) / 86_400_000;
    const angle = (2 * Math.PI * dayOfYear) / 365.25;
    return {
      recordKey: `${d.location.toLowerCase().replace(/\s+/g, '-')}:${d.date}`,
      date: d.date,
      ts: `${d.date}T12:00:00Z`,
      features: {
        location: d.location,
        precipitation: d.precipitation,
        temp_max: d.temp_max,
        temp_min: d.temp_min,
        wind: d.wind,
        season_sin: Math.round(Math.sin(angle) * 1e6) / 1e6,
        season_cos: Math.round(Math.cos(angle) * 1e6) / 1e6,
      },
      label: d.weather,
    };
  });
}

export function weatherModel(modelId = 'weather', overrides: Record<string, unknown> = {}): ModelDefinition {
  return ModelDefinitionSchema.parse({
    modelId,
    labelSet: ['drizzle', 'fog', 'rain', 'snow', 'sun'],
    features: {
      numeric: ['precipitation', 'temp_max', 'temp_min', 'wind', 'season_sin', 'season_cos'],
      categorical: ['location'],
    },
    policy: overrides,
  });
}

/** Feedback (delayed ground truth) arrives for a deterministic third of requests in the log. */
export function hasFeedback(recordKey: string): boolean {
  let h = 0;
  for (let i = 0; i < recordKey.length; i++) h = (h * 31 + recordKey.charCodeAt(i)) >>> 0;
  return h % 3 === 0;
}
