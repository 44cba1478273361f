import DOMPurify from "dompurify";
import React from "react";

export function Comment({ body }) {
  return <div dangerouslySetInnerHTML={{ __html: DOMPurify.sanitize(body) }} />;
}
