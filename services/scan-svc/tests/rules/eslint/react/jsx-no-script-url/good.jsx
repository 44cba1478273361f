import React from "react";

export function Run({ onRun }) {
  return <button type="button" onClick={onRun}>run</button>;
}
