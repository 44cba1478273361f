import React from "react";

export function Run() {
  return <a href="javascript:void(0)">run</a>;
}
