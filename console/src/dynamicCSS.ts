// rc-util's dynamicCSS with the page's CSP nonce as the default. antd's
// own styles get the nonce from ConfigProvider's csp, but two helpers
// under it insert <style> elements with no way to pass one: the modal
// scroll lock (@rc-component/portal useScrollLocker) and the scrollbar
// measurement (rc-util getScrollBarSize). vite.config.ts points every
// import of rc-util/es/Dom/dynamicCSS at this module, so those elements
// carry the nonce and the policy needs no 'unsafe-inline' for styles.
import {
  clearContainerCache,
  injectCSS as injectOriginal,
  removeCSS,
  updateCSS as updateOriginal,
} from "rc-util/es/Dom/dynamicCSS";
import { nonce } from "./nonce";

type Options = NonNullable<Parameters<typeof injectOriginal>[1]>;

const withNonce = (option: Options = {}): Options => (option.csp?.nonce ? option : { ...option, csp: { ...option.csp, nonce } });

export function injectCSS(css: string, option?: Options) {
  return injectOriginal(css, withNonce(option));
}

export function updateCSS(css: string, key: string, option?: Options) {
  return updateOriginal(css, key, withNonce(option));
}

export { clearContainerCache, removeCSS };
