import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import App from "./App";
// antd's global reset (body margin and the like), as a stylesheet of this
// origin: the CSP allows it without a nonce.
import "antd/dist/reset.css";

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
