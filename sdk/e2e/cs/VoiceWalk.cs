// The C# e2e walk's voice part: speech-to-text and text-to-speech through
// the generated ParadiseClient (raw audio in, audio bytes out) and a hub
// voice turn through the packaged HubClient (SendVoiceStart, SendBinary,
// SendVoiceEnd; BinaryReceived for the reply audio). The server runs the
// development speech provider: espeak-ng and pocketsphinx when installed (a
// real round trip), else the 503 envelope (code 5040) and `unavailable`
// error frames that name what is missing; both are checked, like the
// TypeScript walk does.
using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading;
using System.Text.RegularExpressions;
using Newtonsoft.Json;
using Paradise.Rest;
using Paradise.Ws;

static partial class E2E
{
  // seconds of a 220 Hz tone at amplitude amp (0..1), 16 kHz 16-bit mono PCM.
  static byte[] Tone(double seconds, double amp)
  {
    int n = (int)(16000 * seconds);
    var b = new byte[2 * n];
    for (int i = 0; i < n; i++)
    {
      short v = (short)Math.Round(amp * 32767 * Math.Sin(2 * Math.PI * 220 * i / 16000.0));
      b[2 * i] = (byte)(v & 0xff);
      b[2 * i + 1] = (byte)((v >> 8) & 0xff);
    }
    return b;
  }

  static void VoiceWalk(ParadiseClient api, ParadiseClient anon, string mac)
  {
    byte[] speech = null; // espeak-ng's WAV, when installed

    Step("voice: text-to-speech returns WAV bytes (audio/wav) through the generated client, or a 503 names espeak-ng", () =>
    {
      BinaryResponse r;
      try
      {
        r = api.TextToSpeech(new TextToSpeechRequest { Text = "hello world", Format = AudioFormat.Wav });
      }
      catch (ApiException e)
      {
        Check(e.Status == 503 && e.Envelope != null && e.Envelope.Code == 5040 && e.Envelope.Message.Contains("espeak-ng"), "refused: " + e.Message);
        return;
      }
      Check(r.Status == 200 && r.ContentType == "audio/wav" && r.Header("X-Speech-Provider") == "local", r.Status + " " + r.ContentType + " provider " + r.Header("X-Speech-Provider"));
      Check(r.Body.Length > 1000 && Encoding.ASCII.GetString(r.Body, 0, 4) == "RIFF", r.Body.Length + " bytes");
      speech = r.Body;
      // The Task twin reads the same kind of answer.
      var again = api.TextToSpeechAsync(new TextToSpeechRequest { Text = "hello world", Format = AudioFormat.Wav }).GetAwaiter().GetResult();
      Check(again.ContentType == "audio/wav" && again.Body.Length > 1000, "async: " + again.ContentType + " " + again.Body.Length + " bytes");
    });

    Step("voice: speech-to-text refuses empty audio (4023) and recognizes the speech or names the missing engine", () =>
    {
      var empty = Expect(400, () => api.SpeechToText(new byte[0], format: "pcm", sampleRate: 16000));
      Check(empty.Code == 4023, "empty: code " + empty.Code);
      SpeechTranscriptEnvelope t;
      try
      {
        t = speech != null ? api.SpeechToText(speech, format: "wav") : api.SpeechToText(Tone(1, 0.3), format: "pcm", sampleRate: 16000);
      }
      catch (ApiException e)
      {
        if (e.Status == 503)
        {
          Check(e.Envelope != null && e.Envelope.Code == 5040 && Regex.IsMatch(e.Envelope.Message, "pocketsphinx|espeak-ng"), "refused: " + e.Message);
          return;
        }
        // pocketsphinx heard nothing in a tone: empty audio.
        Check(speech == null && e.Status == 400 && e.Envelope != null && e.Envelope.Code == 4023, "refused: " + e.Message);
        return;
      }
      Check(t.Success && t.Data.Provider == "local" && (speech == null || Regex.IsMatch(t.Data.Text, "hello|world", RegexOptions.IgnoreCase)), "transcript: " + JsonConvert.SerializeObject(t.Data));
    });

    // Without espeak-ng the server never answers text-to-speech with audio,
    // so the generated client's reading of a 200 audio answer is also
    // checked against a one-request stand-in (HttpListener).
    Step("voice: TextToSpeech sends the JSON request and reads a 200 audio answer (bytes intact, media type, headers)", () =>
    {
      var probe = new TcpListener(IPAddress.Loopback, 0);
      probe.Start();
      int port = ((IPEndPoint)probe.LocalEndpoint).Port;
      probe.Stop();
      string prefix = "http://127.0.0.1:" + port + "/";
      var audio = new byte[] { (byte)'R', (byte)'I', (byte)'F', (byte)'F', 0x00, 0xff, 0x80, 0x7f, 0x00, 0x00, 0xfe };
      string problem = "no request arrived";
      using (var listener = new HttpListener())
      {
        listener.Prefixes.Add(prefix);
        listener.Start();
        var serve = new Thread(() =>
        {
          try
          {
            var ctx = listener.GetContext();
            var req = ctx.Request;
            string body = new StreamReader(req.InputStream, Encoding.UTF8).ReadToEnd();
            if (req.HttpMethod != "POST" || req.Url.AbsolutePath != "/api/ai/text-to-speech/") problem = "request " + req.HttpMethod + " " + req.Url.AbsolutePath;
            else if (!(req.ContentType ?? "").StartsWith("application/json")) problem = "content-type " + req.ContentType;
            else if (!(req.Headers["Accept"] ?? "").Contains("audio/wav")) problem = "accept " + req.Headers["Accept"];
            else if (req.Headers["Authorization"] != "Token stub-token") problem = "authorization " + req.Headers["Authorization"];
            else if (body != "{\"text\":\"hi\",\"format\":\"wav\"}") problem = "body " + body;
            else problem = null;
            var resp = ctx.Response;
            resp.StatusCode = 200;
            resp.ContentType = "audio/wav; codecs=1";
            resp.Headers["X-Speech-Provider"] = "stub";
            resp.OutputStream.Write(audio, 0, audio.Length);
            resp.Close();
          }
          catch (Exception e)
          {
            problem = "stand-in: " + e.Message;
          }
        }) { IsBackground = true };
        serve.Start();
        var r = new ParadiseClient(prefix) { Token = "stub-token" }.TextToSpeech(new TextToSpeechRequest { Text = "hi", Format = AudioFormat.Wav });
        serve.Join(5000);
        Check(problem == null, problem);
        Check(r.Status == 200 && r.ContentType == "audio/wav" && r.Header("x-speech-provider") == "stub", r.Status + " " + r.ContentType + " provider " + r.Header("x-speech-provider"));
        Check(r.Body.SequenceEqual(audio), "body " + BitConverter.ToString(r.Body) + ", sent " + BitConverter.ToString(audio));
      }
    });

    string deviceToken = null;
    Step("voice: MAC login for the device's voice session", () =>
    {
      deviceToken = anon.MacLogin(new MacRequest { MacAddress = mac }).Data.Token;
    });
    if (deviceToken == null) return;

    Step("voice: a HubClient voice turn (voice_start, binary PCM, voice_end) is answered with stt, tts_start, audio, tts_end, or refused with unavailable", () =>
    {
      var hub = NewHub(deviceToken, false, new List<HubStateChange>());
      // Frames and binary frames (byte[]) in arrival order; presence,
      // notifications and the turn's chat reply frames are not looked at.
      var events = new List<object>();
      hub.FrameReceived += f =>
      {
        if (!(f is ConnectedFrame) && !(f is DeviceInfoFrame) && !(f is NotificationFrame) && !(f is PongFrame) && !(f is ChatDeltaFrame) && !(f is ChatDoneFrame)) events.Add(f);
      };
      hub.BinaryReceived += b => events.Add(b);
      var invalid = new List<string>();
      hub.InvalidFrame += (raw, problem) => invalid.Add(problem + ": " + raw);
      try
      {
        Check(hub.Connect().Wait(10000), "connected");
        // Outside a turn, binary frames are refused.
        hub.SendBinary(Tone(0.1, 0.3)).Wait(5000);
        PumpUntil(() => events.Count > 0, 10000, "the refusal of audio outside a turn", hub);
        var refused = events[0] as ErrorFrame;
        Check(refused != null && refused.Message.Code == ErrorCode.InvalidJson, "outside a turn: " + JsonConvert.SerializeObject(events[0]));
        events.Clear();

        string turn = "csv-" + DateTime.UtcNow.Ticks.ToString("x");
        hub.SendVoiceStart(new VoiceStartPayload { TurnId = turn, Format = VoiceAudioFormat.Pcm, SampleRate = 16000, ReplyFormat = VoiceAudioFormat.Wav }).Wait(5000);
        byte[] audio = speech ?? Tone(1, 0.3);
        int start = speech != null ? 44 : 0; // the WAV header is not PCM
        for (int off = start; off < audio.Length; off += 3200)
          hub.SendBinary(audio, off, Math.Min(3200, audio.Length - off)).Wait(5000);
        hub.SendVoiceEnd(new VoiceTurnPayload { TurnId = turn }).Wait(5000);
        Func<object, bool> ends = e => e is TtsEndFrame || e is ErrorFrame;
        PumpUntil(() => events.Exists(e => ends(e)), 30000, () => "the turn's end (tts_end or error), got " + events.Count + " events", hub);

        var first = events[0];
        Check(!(first is byte[]), "binary before the transcript");
        var err = first as ErrorFrame;
        if (err != null)
        {
          Check(err.Message.Code == ErrorCode.Unavailable && err.Message.RequestId == turn, "refused: " + JsonConvert.SerializeObject(err));
          return;
        }
        var stt = first as SttFrame;
        Check(stt != null && stt.Message.TurnId == turn && stt.Message.Provider == "local", "first: " + JsonConvert.SerializeObject(first));
        int bytes = 0;
        bool started = false;
        foreach (var e in events.GetRange(1, events.Count - 1))
        {
          var chunk = e as byte[];
          if (chunk != null)
          {
            Check(started, "audio before tts_start");
            bytes += chunk.Length;
            continue;
          }
          var ts = e as TtsStartFrame;
          if (ts != null)
          {
            Check(ts.Message.TurnId == turn && ts.Message.Format == VoiceAudioFormat.Wav, "tts_start: " + JsonConvert.SerializeObject(ts));
            started = true;
            continue;
          }
          var end = e as TtsEndFrame;
          if (end != null)
          {
            Check(started && end.Message.TurnId == turn && end.Message.Bytes == bytes && bytes > 0 && !end.Message.Interrupted, "tts_end: " + JsonConvert.SerializeObject(end) + ", " + bytes + " bytes received");
            break;
          }
          // Recognized, but no synthesizer (espeak-ng missing).
          var late = e as ErrorFrame;
          Check(late != null && late.Message.Code == ErrorCode.Unavailable && late.Message.RequestId == turn, "unexpected: " + JsonConvert.SerializeObject(e));
          break;
        }
        Check(invalid.Count == 0, "invalid frames: " + string.Join("; ", invalid.ToArray()));
      }
      finally
      {
        hub.Close();
      }
    });

    Step("voice: HubClient.SendBinary refuses an empty frame and a closed session", () =>
    {
      var idle = new HubClient(new HubOptions { BaseUrl = Base, Token = "x" });
      bool empty = false, closed = false;
      try { idle.SendBinary(new byte[0]); }
      catch (ArgumentException) { empty = true; }
      try { idle.SendBinary(new byte[] { 1, 2 }); }
      catch (InvalidOperationException) { closed = true; }
      Check(empty && closed, "empty refused: " + empty + ", idle refused: " + closed);
    });
  }
}
