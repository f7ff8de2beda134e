// The microphone's AudioWorklet processor (loaded by widgets/audio.js from this
// site, as the CSP's script-src 'self' requires): each block of input, its
// channels averaged, is handed to the page. Nothing is kept here or sent anywhere.

class Capture extends AudioWorkletProcessor {
  process(inputs) {
    const input = inputs[0];
    if (input && input.length) {
      const block = new Float32Array(input[0].length);
      for (let i = 0; i < block.length; i++) {
        let total = 0;
        for (const channel of input) total += channel[i];
        block[i] = total / input.length;
      }
      this.port.postMessage(block, [block.buffer]);
    }
    return true;
  }
}

registerProcessor('webml-capture', Capture);
