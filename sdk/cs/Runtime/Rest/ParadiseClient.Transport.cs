// Hand-written runtime of the Unity package (copied by sdk/run.sh): the
// transport of the generated ParadiseClient. Under Unity the default is
// UnityWebRequest (every platform Unity targets, WebGL included); elsewhere
// (Mono, .NET) it is HttpClient. Both stay overridable: Send for the
// blocking methods, SendAsync for the XxxAsync ones; SendBytes and
// SendBytesAsync carry the operations with audio in or out (speech).
using System;
using System.Collections;
using System.Collections.Generic;
using System.Text;
using System.Threading.Tasks;
#if UNITY_5_3_OR_NEWER
using UnityEngine.Networking;
#else
using System.Net.Http;
using System.Net.Http.Headers;
#endif

namespace Paradise.Rest
{
  /// <summary>One HTTP response as the transport returns it: status and body text.</summary>
  public sealed class RawResponse
  {
    public int Status { get; private set; }
    public string Body { get; private set; }

    public RawResponse(int status, string body)
    {
      Status = status;
      Body = body ?? "";
    }
  }

  /// <summary>
  /// One HTTP response with a binary body (the audio of textToSpeech), or
  /// an error envelope that came instead: status, content type, headers
  /// (case-insensitive names) and the body's bytes.
  /// </summary>
  public sealed class BinaryResponse
  {
    public int Status { get; private set; }
    /// <summary>The media type without parameters (audio/wav), or "" when the response had none.</summary>
    public string ContentType { get; private set; }
    public IDictionary<string, string> Headers { get; private set; }
    public byte[] Body { get; private set; }

    public BinaryResponse(int status, string contentType, IDictionary<string, string> headers, byte[] body)
    {
      Status = status;
      ContentType = contentType ?? "";
      Headers = new Dictionary<string, string>(headers ?? new Dictionary<string, string>(), StringComparer.OrdinalIgnoreCase);
      Body = body ?? new byte[0];
    }

    /// <summary>The body as UTF-8 text (an error envelope's JSON).</summary>
    public string Text { get { return Encoding.UTF8.GetString(Body); } }

    /// <summary>A response header's value, or null when it is absent.</summary>
    public string Header(string name)
    {
      string v;
      return Headers.TryGetValue(name, out v) ? v : null;
    }
  }

  public partial class ParadiseClient
  {
#if UNITY_5_3_OR_NEWER
    /// <summary>
    /// Sends one request and waits for it (the blocking methods). Under
    /// Unity this blocks the calling thread until UnityWebRequest finishes:
    /// fine in editor tools, a frame hitch in a game, so games use the Async
    /// methods (await, or <c>yield return task.AsCoroutine()</c>).
    /// </summary>
    protected virtual int Send(string method, string pathAndQuery, string jsonBody, out string responseBody)
    {
      using (var req = NewRequest(method, pathAndQuery, jsonBody))
      {
        var op = req.SendWebRequest();
        while (!op.isDone) System.Threading.Thread.Sleep(1);
        return Finish(req, out responseBody);
      }
    }

    /// <summary>Sends one request (the Async methods) with UnityWebRequest; call it on Unity's main thread.</summary>
    protected virtual Task<RawResponse> SendAsync(string method, string pathAndQuery, string jsonBody)
    {
      var tcs = new TaskCompletionSource<RawResponse>();
      UnityWebRequest req;
      try
      {
        req = NewRequest(method, pathAndQuery, jsonBody);
      }
      catch (Exception e)
      {
        tcs.SetException(e);
        return tcs.Task;
      }
      req.SendWebRequest().completed += _ =>
      {
        try
        {
          string body;
          int status = Finish(req, out body);
          tcs.TrySetResult(new RawResponse(status, body));
        }
        catch (Exception e)
        {
          tcs.TrySetException(e);
        }
        finally
        {
          req.Dispose();
        }
      };
      return tcs.Task;
    }

    /// <summary>Sends one request with a binary body and/or a binary answer and waits for it (blocks like Send).</summary>
    protected virtual BinaryResponse SendBytes(string method, string pathAndQuery, byte[] body, string contentType, string accept)
    {
      using (var req = NewBytesRequest(method, pathAndQuery, body, contentType, accept))
      {
        var op = req.SendWebRequest();
        while (!op.isDone) System.Threading.Thread.Sleep(1);
        return FinishBytes(req);
      }
    }

    /// <summary>Sends one request with a binary body and/or a binary answer with UnityWebRequest; call it on Unity's main thread.</summary>
    protected virtual Task<BinaryResponse> SendBytesAsync(string method, string pathAndQuery, byte[] body, string contentType, string accept)
    {
      var tcs = new TaskCompletionSource<BinaryResponse>();
      UnityWebRequest req;
      try
      {
        req = NewBytesRequest(method, pathAndQuery, body, contentType, accept);
      }
      catch (Exception e)
      {
        tcs.SetException(e);
        return tcs.Task;
      }
      req.SendWebRequest().completed += _ =>
      {
        try
        {
          tcs.TrySetResult(FinishBytes(req));
        }
        catch (Exception e)
        {
          tcs.TrySetException(e);
        }
        finally
        {
          req.Dispose();
        }
      };
      return tcs.Task;
    }

    UnityWebRequest NewBytesRequest(string method, string pathAndQuery, byte[] body, string contentType, string accept)
    {
      var req = new UnityWebRequest(BaseUrl + pathAndQuery, method);
      req.downloadHandler = new DownloadHandlerBuffer();
      req.SetRequestHeader("Accept", accept);
      if (Token != null) req.SetRequestHeader("Authorization", "Token " + Token);
      if (body != null)
      {
        req.uploadHandler = new UploadHandlerRaw(body);
        req.SetRequestHeader("Content-Type", contentType);
      }
      return req;
    }

    static BinaryResponse FinishBytes(UnityWebRequest req)
    {
      if (req.responseCode == 0) throw new System.Net.WebException("request failed: " + req.error);
      string ct = req.GetResponseHeader("Content-Type") ?? "";
      int semi = ct.IndexOf(';');
      if (semi >= 0) ct = ct.Substring(0, semi);
      return new BinaryResponse((int)req.responseCode, ct.Trim(), req.GetResponseHeaders(), req.downloadHandler != null ? req.downloadHandler.data : null);
    }

    UnityWebRequest NewRequest(string method, string pathAndQuery, string jsonBody)
    {
      var req = new UnityWebRequest(BaseUrl + pathAndQuery, method);
      req.downloadHandler = new DownloadHandlerBuffer();
      req.SetRequestHeader("Accept", "application/json");
      if (Token != null) req.SetRequestHeader("Authorization", "Token " + Token);
      if (jsonBody != null)
      {
        req.uploadHandler = new UploadHandlerRaw(Encoding.UTF8.GetBytes(jsonBody));
        req.SetRequestHeader("Content-Type", "application/json");
      }
      return req;
    }

    // A non-2xx status is an answer (the envelope), not a transport error:
    // only a request that got no response at all throws.
    static int Finish(UnityWebRequest req, out string responseBody)
    {
      if (req.responseCode == 0) throw new System.Net.WebException("request failed: " + req.error);
      responseBody = req.downloadHandler != null ? req.downloadHandler.text : "";
      return (int)req.responseCode;
    }
#else
    static readonly HttpClient http = new HttpClient();

    /// <summary>Sends one request and waits for it (the blocking methods); the default uses HttpClient.</summary>
    protected virtual int Send(string method, string pathAndQuery, string jsonBody, out string responseBody)
    {
      RawResponse r = SendAsync(method, pathAndQuery, jsonBody).ConfigureAwait(false).GetAwaiter().GetResult();
      responseBody = r.Body;
      return r.Status;
    }

    /// <summary>Sends one request (the Async methods); the default uses HttpClient.</summary>
    protected virtual async Task<RawResponse> SendAsync(string method, string pathAndQuery, string jsonBody)
    {
      using (var req = new HttpRequestMessage(new HttpMethod(method), BaseUrl + pathAndQuery))
      {
        req.Headers.Accept.ParseAdd("application/json");
        if (Token != null) req.Headers.Authorization = new AuthenticationHeaderValue("Token", Token);
        if (jsonBody != null) req.Content = new StringContent(jsonBody, Encoding.UTF8, "application/json");
        using (var resp = await http.SendAsync(req).ConfigureAwait(false))
        {
          string body = resp.Content == null ? "" : await resp.Content.ReadAsStringAsync().ConfigureAwait(false);
          return new RawResponse((int)resp.StatusCode, body);
        }
      }
    }

    /// <summary>Sends one request with a binary body and/or a binary answer and waits for it; the default uses HttpClient.</summary>
    protected virtual BinaryResponse SendBytes(string method, string pathAndQuery, byte[] body, string contentType, string accept)
    {
      return SendBytesAsync(method, pathAndQuery, body, contentType, accept).ConfigureAwait(false).GetAwaiter().GetResult();
    }

    /// <summary>Sends one request with a binary body and/or a binary answer; the default uses HttpClient.</summary>
    protected virtual async Task<BinaryResponse> SendBytesAsync(string method, string pathAndQuery, byte[] body, string contentType, string accept)
    {
      using (var req = new HttpRequestMessage(new HttpMethod(method), BaseUrl + pathAndQuery))
      {
        req.Headers.Accept.ParseAdd(accept);
        if (Token != null) req.Headers.Authorization = new AuthenticationHeaderValue("Token", Token);
        if (body != null)
        {
          req.Content = new ByteArrayContent(body);
          req.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        }
        using (var resp = await http.SendAsync(req).ConfigureAwait(false))
        {
          var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
          foreach (var h in resp.Headers) headers[h.Key] = string.Join(", ", h.Value);
          string ct = "";
          byte[] bytes = new byte[0];
          if (resp.Content != null)
          {
            foreach (var h in resp.Content.Headers) headers[h.Key] = string.Join(", ", h.Value);
            if (resp.Content.Headers.ContentType != null) ct = resp.Content.Headers.ContentType.MediaType;
            bytes = await resp.Content.ReadAsByteArrayAsync().ConfigureAwait(false);
          }
          return new BinaryResponse((int)resp.StatusCode, ct, headers, bytes);
        }
      }
    }
#endif
  }
}

namespace Paradise
{
  /// <summary>Tasks in Unity coroutines.</summary>
  public static class TaskCoroutines
  {
    /// <summary>
    /// Waits for the task inside a coroutine, one frame at a time:
    /// <c>var t = client.GetProfileAsync(); yield return t.AsCoroutine(); var profile = t.Result;</c>
    /// (Result rethrows the task's exception.)
    /// </summary>
    public static IEnumerator AsCoroutine(this Task task)
    {
      while (!task.IsCompleted) yield return null;
    }
  }
}
