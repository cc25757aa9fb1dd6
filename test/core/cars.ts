/**
 * The cars of vega-datasets 3.2.1 (data/cars.json, 1970–1982: miles per gallon, weight, horsepower,
 * cylinders, displacement, origin), the regression tests' real data. vega-datasets 3 exports only its
 * JS entry (build/index.js): the data folder sits beside build/.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

export interface Car {
  Name: string;
  Miles_per_Gallon: number | null;
  Cylinders: number;
  Displacement: number;
  Horsepower: number | null;
  Weight_in_lbs: number;
  Acceleration: number;
  /** The model year as an ISO date, e.g. "1970-01-01". */
  Year: string;
  Origin: string;
}

export const carsFile = path.join(
  path.dirname(createRequire(import.meta.url).resolve('vega-datasets-v3')),
  '..',
  'data',
  'cars.json',
);

/** Every car in file order (406, some without miles per gallon or horsepower). */
export function loadCars(): Car[] {
  return JSON.parse(readFileSync(carsFile, 'utf8')) as Car[];
}
