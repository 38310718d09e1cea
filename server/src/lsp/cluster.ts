/**
 * The cluster functions the worker calls. Bundled on their own (dist/cluster.js, mostly the
 * Kubernetes client) and loaded on first use, so the worker starts fast and small when only dumps
 * are analysed (saves ~0.3 s and ~18 MB at every worker start).
 */
export { analyzePod } from '../kube/analyzePod';
export { dumpFromPod, previewDump } from '../kube/dump';
export { listContexts } from '../kube/kubeconfig';
export { listPrometheusPods } from '../kube/prometheusPods';
export { restoreToPod } from '../kube/restore';
export { podSummary } from '../kube/summary';
