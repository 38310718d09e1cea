/**
 * @kubernetes/client-node 1.x is an ES module; this CommonJS code loads it with a dynamic import
 * (kept as import() by tsc's node16 output, bundled by esbuild) once, and shares it.
 */
export type K8s = typeof import('@kubernetes/client-node', { with: { 'resolution-mode': 'import' } });
export type KubeConfig = import('@kubernetes/client-node', { with: { 'resolution-mode': 'import' } }).KubeConfig;
export type V1Pod = import('@kubernetes/client-node', { with: { 'resolution-mode': 'import' } }).V1Pod;
export type ConfigurationOptions = import('@kubernetes/client-node', { with: { 'resolution-mode': 'import' } }).ConfigurationOptions;

let loaded: Promise<K8s> | undefined;

export function k8s(): Promise<K8s> {
  loaded ??= import('@kubernetes/client-node');
  return loaded;
}
