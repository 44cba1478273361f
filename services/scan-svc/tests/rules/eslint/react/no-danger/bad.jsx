import React from "react";

export function Bio({ html }) {
  return <div dangerouslySetInnerHTML={{ __html: html }} />;
}
