/**
 * Asks for an API key when the gateway requires one: a modal form whose answer is saved in
 * localStorage, so the question comes once per browser (and again only when the key is refused).
 */
import { saveKey } from './api.js';

/** Shows the key form with `message`; resolves with the key entered (saved already). */
export function askForKey(message: string): Promise<string> {
  const dialog = document.querySelector<HTMLDialogElement>('#key-dialog')!;
  const form = dialog.querySelector('form')!;
  const input = dialog.querySelector<HTMLInputElement>('input[name=key]')!;
  dialog.querySelector<HTMLElement>('.key-message')!.textContent = message;
  input.value = '';
  return new Promise((resolve) => {
    const submit = (event: SubmitEvent) => {
      event.preventDefault();
      const key = input.value.trim();
      if (!key) return;
      form.removeEventListener('submit', submit);
      saveKey(key);
      dialog.close();
      resolve(key);
    };
    form.addEventListener('submit', submit);
    // Escape must not leave the page without a key and without a way back.
    dialog.addEventListener('cancel', (event) => event.preventDefault(), { once: true });
    if (!dialog.open) dialog.showModal();
    input.focus();
  });
}
