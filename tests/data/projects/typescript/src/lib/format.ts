export function format(value: number, digits = 2): string {
  return value.toFixed(digits);
}
