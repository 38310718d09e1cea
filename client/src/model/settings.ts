/** The settings as one typed object, from VS Code's configuration (pure: ../config.ts reads VS Code). */
import type { VerifyDepth } from '../../../server/src/protocol';

export interface Settings {
  /** Empty: $KUBECONFIG, then ~/.kube/config (the worker decides). */
  kubeconfig?: string;
  labelSelector?: string;
  /** `tsdbdump.defaultDataDir`: the Prometheus data dir in pods. */
  dataDir?: string;
  dumpGlob: string;
  verify: VerifyDepth;
  analyzeOnOpen: boolean;
}

/** A setting's value and package.json's default for it, as VS Code's configuration gives them. */
export type SettingLookup = (key: string) => { value: unknown; defaultValue: unknown };

const text = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** The settings from a lookup; pure, so it is unit-tested without VS Code. */
export function readSettings(lookup: SettingLookup): Settings {
  const glob = lookup('dumpGlob');
  const verify = lookup('verify');
  const analyzeOnOpen = lookup('analyzeOnOpen');
  return {
    kubeconfig: text(lookup('kubeconfig').value),
    labelSelector: text(lookup('labelSelector').value),
    dataDir: text(lookup('defaultDataDir').value),
    dumpGlob: text(glob.value) ?? String(glob.defaultValue),
    verify: (verify.value === 'quick' || verify.value === 'full' ? verify.value : verify.defaultValue) as VerifyDepth,
    analyzeOnOpen: typeof analyzeOnOpen.value === 'boolean' ? analyzeOnOpen.value : analyzeOnOpen.defaultValue !== false,
  };
}
