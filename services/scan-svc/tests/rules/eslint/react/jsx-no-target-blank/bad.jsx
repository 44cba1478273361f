import React from "react";

export function Docs({ url }) {
  return <a href={url} target="_blank">docs</a>;
}
