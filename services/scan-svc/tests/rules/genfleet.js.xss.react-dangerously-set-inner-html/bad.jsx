import React from "react";

export function Comment({ body }) {
  return <div dangerouslySetInnerHTML={{ __html: body }} />;
}
