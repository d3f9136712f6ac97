// The page's CSP nonce: the server writes a fresh one into index.html's
// csp-nonce meta element on every answer (internal/console). Every
// <style> element the console or its libraries insert must carry it.
export const nonce = document.querySelector<HTMLMetaElement>('meta[name="csp-nonce"]')?.content ?? "";
