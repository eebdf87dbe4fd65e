import { add } from '../lib/math';
import { Vector } from '@lib/math';
import { format } from '../lib';

export function run(): string {
  const v = new Vector(3, 4);
  const total = add(v.length(), 1);
  return format(total);
}
