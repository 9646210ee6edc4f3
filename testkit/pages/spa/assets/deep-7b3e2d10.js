// A lazy chunk: loaded only when its route is the one the app starts on.
export function render(root, path) {
  root.textContent = `deep page for ${path}`;
  return root.textContent;
}
