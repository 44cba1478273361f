import React from "react";

export function Docs({ url }) {
  return <a href={url} target="_blank" rel="noreferrer">docs</a>;
}
