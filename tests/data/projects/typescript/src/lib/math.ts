/** Adds two numbers. */
export function add(a: number, b: number): number {
  return a + b;
}

export class Vector {
  constructor(public x: number, public y: number) {}

  /** Length of the vector. */
  length(): number {
    return Math.sqrt(this.x * this.x + this.y * this.y);
  }

  scale(factor: number): Vector {
    return new Vector(this.x * factor, this.y * factor);
  }
}

export const ORIGIN = new Vector(0, 0);
