/** Analyze Pod: the pod's data dir streamed into the worker's analyser, nothing saved. */
import * as vscode from 'vscode';
import { Requests, type AnalysisResult } from '../../../server/src/protocol';
import { targetOf } from '../views/podsTree';
import { pickPod, podOf, requireTrust, showFailure, withProgress, type Services } from './services';

export async function analyzePod(s: Services, arg?: unknown): Promise<AnalysisResult | undefined> {
  if (!requireTrust('Analyze Pod')) return undefined;
  try {
    const given = podOf(arg);
    const pod = given?.pod ?? (await pickPod(s, 'Analyze Pod'));
    if (!pod) return undefined;
    const target = targetOf(s.config, pod, given?.container);
    const result = await withProgress(`Analysing pod ${pod.name}`, (progress, token) =>
      s.worker.request(Requests.analyzePod, { ...target, verify: s.config.settings.verify }, { progress, token }),
    );
    s.pods.setAnalysis(pod, result);
    void vscode.window.showInformationMessage(`${pod.name}: ${result.blocks.length} blocks, ${result.diagnostics.length} diagnostic(s).`);
    return result;
  } catch (e) {
    showFailure(s, 'Analysis of the pod', e);
    return undefined;
  }
}
