/**
 * Types for the dashboard's files as dashboard_files.ts imports them, `with { type: "file" }`:
 * Bun then gives the path of the file (inside the executable, once compiled), a string. Without
 * these, TypeScript would type the page as bun-types' HTMLBundle (the import without the
 * attribute) and refuse the scripts and the style sheet. One line per file of dashboard/.
 */
declare module "*/dashboard/index.html" {
  const path: string;
  export default path;
}
declare module "*/dashboard/dashboard.css" {
  const path: string;
  export default path;
}
declare module "*/dashboard/app.js" {
  const path: string;
  export default path;
}
declare module "*/dashboard/actions.js" {
  const path: string;
  export default path;
}
declare module "*/dashboard/charts.js" {
  const path: string;
  export default path;
}
declare module "*/dashboard/format.js" {
  const path: string;
  export default path;
}
declare module "*/dashboard/table.js" {
  const path: string;
  export default path;
}
