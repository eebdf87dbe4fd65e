// Test helper: reads the contributed settings from package.json.

import * as fs from 'fs';
import * as path from 'path';

interface Property {
  default?: unknown;
}

export function contributedProperties(): Record<string, Property> {
  // out/test/unit -> the extension folder
  const manifest = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as {
    contributes: { configuration: { properties: Record<string, Property> }[] };
  };
  return Object.assign({}, ...manifest.contributes.configuration.map((section) => section.properties)) as Record<string, Property>;
}

export function contributedDefaults(): Record<string, unknown> {
  return Object.fromEntries(Object.entries(contributedProperties()).map(([key, p]) => [key, p.default]));
}
