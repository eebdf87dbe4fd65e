import { format } from "../lib/format";

export function Widget(props: { value: number }) {
  return <span>{format(props.value)}</span>;
}
