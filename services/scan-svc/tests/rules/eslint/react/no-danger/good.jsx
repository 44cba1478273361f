import React from "react";

export function Bio({ text }) {
  return <div>{text}</div>;
}
