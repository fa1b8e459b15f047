/** Small questions about files through VS Code's file system API (local or remote workspaces). */

import * as vscode from 'vscode';

/** Whether `uri` names something that exists. */
export async function uriExists(uri: vscode.Uri): Promise<boolean> {
  try {
    await vscode.workspace.fs.stat(uri);
    return true;
  } catch {
    return false;
  }
}
