import type { TemplateDefinition } from '../api/types.js';

/** The new-template form as typed: every field a string until it is checked. */
export interface TemplateForm {
  id: string;
  name: string;
  description: string;
  memoryMin: string;
  memoryMax: string;
  memoryDefault: string;
  cpuMin: string;
  cpuMax: string;
  cpuDefault: string;
  flows: string;
  settings: string;
}

export type ParsedTemplate = { ok: true; template: TemplateDefinition } | { ok: false; problem: string };

const TEMPLATE_ID = /^[a-z][a-z0-9-]{0,39}$/;

function range(what: string, min: string, def: string, max: string, integer: boolean): { min: number; max: number; default: number } | string {
  const values = [min, def, max].map(Number);
  if (values.some((v, i) => [min, def, max][i]!.trim() === '' || !Number.isFinite(v) || v <= 0)) return `${what}: minimum, default and maximum must be positive numbers`;
  if (integer && values.some((v) => !Number.isInteger(v))) return `${what}: use whole numbers`;
  const [lo, d, hi] = values as [number, number, number];
  if (!(lo <= d && d <= hi)) return `${what}: the default must lie between the minimum and the maximum`;
  return { min: lo, max: hi, default: d };
}

/** Checks the form before sending; the server validates again and has the last word. */
export function parseTemplateForm(form: TemplateForm, env: Record<string, string>): ParsedTemplate {
  if (!TEMPLATE_ID.test(form.id)) return { ok: false, problem: 'Id: 1–40 characters of a-z, 0-9 and “-”, starting with a letter' };
  if (form.name.trim() === '') return { ok: false, problem: 'Name is required' };
  const memory = range('Memory', form.memoryMin, form.memoryDefault, form.memoryMax, true);
  if (typeof memory === 'string') return { ok: false, problem: memory };
  const cpu = range('CPU', form.cpuMin, form.cpuDefault, form.cpuMax, false);
  if (typeof cpu === 'string') return { ok: false, problem: cpu };
  let flows: unknown;
  let settings: unknown;
  try {
    flows = JSON.parse(form.flows || '[]');
  } catch {
    return { ok: false, problem: 'Flows is not valid JSON' };
  }
  if (!Array.isArray(flows) || flows.some((n) => typeof n !== 'object' || n === null || Array.isArray(n))) return { ok: false, problem: 'Flows must be a JSON array of node objects' };
  try {
    settings = JSON.parse(form.settings || '{}');
  } catch {
    return { ok: false, problem: 'Settings is not valid JSON' };
  }
  if (typeof settings !== 'object' || settings === null || Array.isArray(settings)) return { ok: false, problem: 'Settings must be a JSON object' };
  return {
    ok: true,
    template: {
      id: form.id,
      name: form.name.trim(),
      description: form.description.trim(),
      flows: flows as Record<string, unknown>[],
      settings: settings as Record<string, unknown>,
      env,
      memory,
      cpu,
    },
  };
}
