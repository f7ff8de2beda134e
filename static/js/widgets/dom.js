// Small DOM helpers the input widgets share.

/** An element with an optional class and text. */
export function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/**
 * Take files dropped on `root` (and, with `paste`, pasted anywhere on the page):
 * the first one `accepts` is given to `feed`.
 */
export function takeDroppedFiles(root, accepts, feed, { paste = false } = {}) {
  root.addEventListener('dragover', (e) => { e.preventDefault(); root.classList.add('dragging'); });
  root.addEventListener('dragleave', () => root.classList.remove('dragging'));
  root.addEventListener('drop', (e) => {
    e.preventDefault();
    root.classList.remove('dragging');
    const dropped = [...e.dataTransfer.files].find(accepts);
    if (dropped) feed(dropped);
  });
  if (!paste) return;
  document.addEventListener('paste', (e) => {
    const pasted = [...e.clipboardData.files].find(accepts);
    if (pasted) feed(pasted);
  });
}
