/**
 * The console's only script, loaded from /console/assets (the CSP allows no inline script). It
 * only adds comfort: the pages work without it. Copy buttons start hidden and appear here.
 */
for (const button of document.querySelectorAll<HTMLButtonElement>('button[data-copy]')) {
  button.hidden = false;
  button.addEventListener('click', () => {
    const field = document.getElementById(button.dataset.copy ?? '');
    const value = field instanceof HTMLInputElement ? field.value : (field?.textContent ?? '');
    const status = document.getElementById(button.dataset.copyStatus ?? '');
    const done = () => {
      if (status) status.textContent = button.dataset.copiedText ?? '';
    };
    navigator.clipboard.writeText(value).then(done, () => {
      // Without clipboard access (an http page, a refused permission) the value is selected to copy by hand.
      if (field instanceof HTMLInputElement) field.select();
    });
  });
}

export {};
