'use strict';
// Served as editorTheme.page.scripts, so it runs before the editor's document-ready init. Openflow signs the editor in
// with an HttpOnly cookie; a token left in localStorage by an earlier session would otherwise be sent as the first
// /comms frame, be refused, and open Node-RED's login dialog.
(function removeStaleEditorTokens() {
  try {
    for (let i = localStorage.length - 1; i >= 0; i -= 1) {
      const key = localStorage.key(i);
      if (key !== null && key.indexOf('auth-tokens') === 0) {
        localStorage.removeItem(key);
      }
    }
  } catch {
    // Storage can be blocked by browser policy; then there is nothing stale to clear either.
  }
})();
