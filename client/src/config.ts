/**
 * The extension's settings (`tsdbdump.*` in package.json), read once into one typed object and
 * read again when the user changes them. Defaults come from package.json through VS Code (an
 * empty string setting falls back to package.json's default, never to a copy of it here).
 */
import * as vscode from 'vscode';
import { readSettings, type Settings } from './model/settings';

export type { Settings } from './model/settings';

export class Config implements vscode.Disposable {
  private current: Settings;
  private readonly changed = new vscode.EventEmitter<(keyof Settings)[]>();
  /** Fires with the settings that changed. */
  readonly onDidChange = this.changed.event;
  private readonly sub: vscode.Disposable;

  constructor() {
    this.current = Config.read();
    this.sub = vscode.workspace.onDidChangeConfiguration((e) => {
      if (!e.affectsConfiguration('tsdbdump')) return;
      const before = this.current;
      this.current = Config.read();
      const keys = (Object.keys(this.current) as (keyof Settings)[]).filter((k) => before[k] !== this.current[k]);
      if (keys.length) this.changed.fire(keys);
    });
  }

  get settings(): Readonly<Settings> {
    return this.current;
  }

  private static read(): Settings {
    const c = vscode.workspace.getConfiguration('tsdbdump');
    return readSettings((key) => {
      const i = c.inspect(key);
      return { value: c.get(key), defaultValue: i?.defaultValue };
    });
  }

  dispose(): void {
    this.sub.dispose();
    this.changed.dispose();
  }
}
