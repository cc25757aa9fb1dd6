/**
 * The cars of vega-datasets 3.2.1 (data/cars.json, 1970–1982: miles per gallon, weight, horsepower,
 * cylinders, displacement, origin), the real data of the regression tests and benchmarks: a model
 * predicting miles per gallon. vega-datasets 3 exports only its JS entry (build/index.js): the data
 * folder sits beside build/.
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

/** The model year as a number, e.g. 1970. */
export const carYear = (c: Car): number => Number(c.Year.slice(0, 4));

/** The features a miles-per-gallon model reads: the car's measurements, its model year and origin. */
export const CAR_FEATURES = {
  numeric: ['Cylinders', 'Displacement', 'Horsepower', 'Weight_in_lbs', 'Acceleration', 'year'],
  categorical: ['Origin'],
};

/**
 * The features of the remediation scenario's model: the car's measurements and origin, without its model
 * year. A year the reference never saw is out of range by construction (a data-quality incident, not
 * drift); without it, the shift is the real one: later cars of the same weight and power go further.
 */
export const CAR_MEASUREMENTS = {
  numeric: ['Cylinders', 'Displacement', 'Horsepower', 'Weight_in_lbs', 'Acceleration'],
  categorical: ['Origin'],
};

/** The cars with miles per gallon and horsepower (392), each keyed by its place in the file. */
export function labeledCars(): {
  recordKey: string;
  year: number;
  features: Record<string, number | string>;
  value: number;
}[] {
  return loadCars().flatMap((c, i) =>
    c.Miles_per_Gallon === null || c.Horsepower === null
      ? []
      : [
          {
            recordKey: `car-${i}`,
            year: carYear(c),
            features: {
              Cylinders: c.Cylinders,
              Displacement: c.Displacement,
              Horsepower: c.Horsepower,
              Weight_in_lbs: c.Weight_in_lbs,
              Acceleration: c.Acceleration,
              year: carYear(c),
              Origin: c.Origin,
            },
            value: c.Miles_per_Gallon,
          },
        ],
  );
}
